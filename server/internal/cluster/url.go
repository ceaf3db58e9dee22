package cluster

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// parseSentinelURL reads a URL naming a Sentinel-managed primary:
//
//	redis-sentinel://[[user]:password@]host:port[,host:port…]/primary[/db][?sentinel_password=…]
//
// host:port are Sentinels; primary is the name they monitor it under
// (`sentinel monitor <primary> …`); the password is the primary's. ok is
// false for any other scheme.
func parseSentinelURL(raw string) (fo *redis.FailoverOptions, ok bool, err error) {
	rest, ok := strings.CutPrefix(raw, "redis-sentinel://")
	if !ok {
		return nil, false, nil
	}
	rest, query, _ := strings.Cut(rest, "?")
	fo = &redis.FailoverOptions{}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, pass, hasPass := strings.Cut(rest[:at], ":")
		if fo.Username, err = url.PathUnescape(user); err != nil {
			return nil, true, fmt.Errorf("user: %w", err)
		}
		if hasPass {
			if fo.Password, err = url.PathUnescape(pass); err != nil {
				return nil, true, fmt.Errorf("password: %w", err)
			}
		}
		rest = rest[at+1:]
	}
	hosts, path, _ := strings.Cut(rest, "/")
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return nil, true, fmt.Errorf("sentinel address %q: want host:port", h)
		}
		fo.SentinelAddrs = append(fo.SentinelAddrs, net.JoinHostPort(host, port))
	}
	name, db, hasDB := strings.Cut(path, "/")
	if name == "" {
		return nil, true, fmt.Errorf("%q names no primary: want redis-sentinel://host:port[,host:port]/primary", raw)
	}
	fo.MasterName = name
	if hasDB {
		if fo.DB, err = strconv.Atoi(db); err != nil {
			return nil, true, fmt.Errorf("database number %q: %w", db, err)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, true, fmt.Errorf("query: %w", err)
	}
	for k := range q {
		if k != "sentinel_password" {
			return nil, true, fmt.Errorf("unknown parameter %q", k)
		}
	}
	fo.SentinelPassword = q.Get("sentinel_password")
	return fo, true, nil
}
