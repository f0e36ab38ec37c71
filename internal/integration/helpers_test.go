package integration_test

import (
	"net/netip"
	"testing"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/udp"
)

var (
	addrA = netip.MustParseAddrPort("10.0.0.1:1001")
	addrB = netip.MustParseAddrPort("10.0.0.2:1002")
)

func newConn(t testing.TB, inner udp.Conn, cfg secure.Config) *secure.Conn {
	t.Helper()
	c, err := secure.NewConn(inner, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// diffDrops is what was dropped between two snapshots of a conn's stats.
func diffDrops(before, after secure.Stats) map[string]uint64 {
	return securetest.DiffDrops(before.Drops[:], after.Drops[:], func(i int) string { return secure.DropReason(i).String() })
}
