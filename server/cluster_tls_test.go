package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// startRedisTLS starts redis-server listening with TLS only, on a
// self-signed certificate for 127.0.0.1, as hosted Redis does.
func startRedisTLS(t *testing.T) *redisServer {
	t.Helper()
	r := newRedis(t)
	r.certFile, r.keyFile = selfSigned(t)
	r.Start()
	return r
}

// selfSigned writes a self-signed certificate and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "redis test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// rediss:// with a self-signed certificate works by default (hosted Redis
// self-signs): two nodes share the list and the circles. With
// REDIS_TLS_VERIFY=true the certificate is checked, and refused.
func TestClusterRedisTLS(t *testing.T) {
	r := startRedisTLS(t)
	n1, n2 := startServer(t, clusterEnv(r)), startServer(t, clusterEnv(r))
	a, b := dial(t, n1, sioclient.Options{}), dial(t, n2, sioclient.Options{})
	register(t, a, "TA")
	register(t, b, "TB")
	waitPlayers(t, a, "TA", "TB")
	a.Emit("add-circle", circle(5))
	var got board.Circle
	if err := next(t, b, "add-circle").Decode(0, &got); err != nil || got.X != 5 {
		t.Errorf("add-circle over rediss: %+v, %v", got, err)
	}
	if h := waitHealth(t, n1, "up"); h.Status != "ok" {
		t.Errorf("healthz %+v", h)
	}

	strict := startServer(t, map[string]string{"REDIS_URL": r.URL(), "REDIS_TLS_VERIFY": "true"})
	if h := waitHealth(t, strict, "down"); h.Redis != "down" {
		t.Errorf("REDIS_TLS_VERIFY=true with a self-signed certificate: healthz %+v", h)
	}
	if !strict.logs.Contains("certificate") {
		t.Errorf("no log line names the certificate error:\n%s", strict.logs.String())
	}
}
