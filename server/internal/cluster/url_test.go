package cluster

import (
	"slices"
	"testing"
)

func TestParseSentinelURL(t *testing.T) {
	fo, ok, err := parseSentinelURL("redis-sentinel://:p%40ss@10.0.0.5:26379,[::1]:26380/circles/2?sentinel_password=s")
	if !ok || err != nil {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	if fo.MasterName != "circles" || fo.DB != 2 || fo.Password != "p@ss" || fo.SentinelPassword != "s" ||
		!slices.Equal(fo.SentinelAddrs, []string{"10.0.0.5:26379", "[::1]:26380"}) {
		t.Errorf("parsed %+v", fo)
	}
	if _, ok, _ := parseSentinelURL("redis://127.0.0.1:6379"); ok {
		t.Error("redis:// taken for a Sentinel URL")
	}
	for _, bad := range []string{
		"redis-sentinel://127.0.0.1:26379",           // no primary name
		"redis-sentinel://127.0.0.1:26379/",          // empty primary name
		"redis-sentinel://127.0.0.1/circles",         // no port
		"redis-sentinel://127.0.0.1:26379/circles/x", // bad db
		"redis-sentinel://127.0.0.1:26379/circles?master=x",
	} {
		if _, ok, err := parseSentinelURL(bad); !ok || err == nil {
			t.Errorf("%s: ok %v, err %v; want an error", bad, ok, err)
		}
	}
}
