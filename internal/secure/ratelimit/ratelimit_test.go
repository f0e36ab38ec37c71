package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestBurstThenRate(t *testing.T) {
	l := New(10, 5, 100) // 10/s, burst 5
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 5 {
		if !l.Allow(a, t0) {
			t.Fatalf("event %d of the burst refused", i)
		}
	}
	if l.Allow(a, t0) {
		t.Fatal("event past the burst allowed")
	}
	// 100ms later, one more.
	now := t0.Add(100 * time.Millisecond)
	if !l.Allow(a, now) || l.Allow(a, now) {
		t.Fatal("not one event per 100ms")
	}
	// Over 10 seconds at a steady 100/s, about 10/s get through.
	allowed := 0
	for i := range 1000 {
		if l.Allow(a, now.Add(time.Duration(i)*10*time.Millisecond)) {
			allowed++
		}
	}
	if allowed < 95 || allowed > 106 {
		t.Errorf("%d allowed over 10s, want about 100", allowed)
	}
}

func TestSourcesAreIndependent(t *testing.T) {
	l := New(1, 2, 100)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for l.Allow(a, t0) {
	}
	if !l.Allow(b, t0) {
		t.Fatal("one source's flood starved another")
	}
}

func TestIPv6Prefix(t *testing.T) {
	l := New(1, 1, 100)
	if !l.Allow(netip.MustParseAddr("2001:db8::1"), t0) {
		t.Fatal("first refused")
	}
	if l.Allow(netip.MustParseAddr("2001:db8::ffff:2"), t0) {
		t.Fatal("same /64 got a bucket of its own")
	}
	if !l.Allow(netip.MustParseAddr("2001:db8:0:1::1"), t0) {
		t.Fatal("another /64 refused")
	}
	// A v4-mapped v6 address is the v4 address.
	if !l.Allow(netip.MustParseAddr("::ffff:192.0.2.9"), t0) || l.Allow(netip.MustParseAddr("192.0.2.9"), t0) {
		t.Fatal("v4-mapped and v4 differ")
	}
}

// On a link every host's IPv6 address is in fe80::/64: NewPerAddress gives
// each address a bucket, whatever its zone.
func TestPerAddress(t *testing.T) {
	l := NewPerAddress(1, 1, 100)
	if !l.Allow(netip.MustParseAddr("fe80::1%eth0"), t0) || !l.Allow(netip.MustParseAddr("fe80::2%eth0"), t0) {
		t.Fatal("two hosts of one link share a bucket")
	}
	if l.Allow(netip.MustParseAddr("fe80::1%eth1"), t0) {
		t.Fatal("the zone made a new source")
	}
	if !l.Allow(netip.MustParseAddr("192.0.2.9"), t0) || l.Allow(netip.MustParseAddr("::ffff:192.0.2.9"), t0) {
		t.Fatal("v4-mapped and v4 differ")
	}
}

func TestTableBoundedAndCleaned(t *testing.T) {
	l := New(10, 2, 50)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
	for i := range 50 {
		if !l.Allow(addr(i), t0) {
			t.Fatalf("source %d refused", i)
		}
	}
	// Full, and nobody's bucket has refilled: new sources are refused.
	if l.Allow(addr(50), t0) {
		t.Fatal("a new source got in with the table full")
	}
	if l.Len() != 50 {
		t.Fatalf("Len %d", l.Len())
	}
	// Once buckets refill (burst/rate = 200ms), the table makes room.
	later := t0.Add(time.Second)
	if !l.Allow(addr(50), later) {
		t.Fatal("refused after the old entries expired")
	}
	if n := l.Len(); n != 1 {
		t.Errorf("Len after the sweep %d, want 1", n)
	}
	l.Sweep(later.Add(time.Second))
	if n := l.Len(); n != 0 {
		t.Errorf("Len after Sweep %d, want 0", n)
	}
	// Under a flood of new sources the table never passes its bound.
	for i := range 10000 {
		l.Allow(addr(i), later.Add(time.Duration(i)*time.Millisecond))
		if l.Len() > 50 {
			t.Fatalf("Len %d > 50", l.Len())
		}
	}
}

func TestAllowAllocs(t *testing.T) {
	l := New(1e9, 1e6, 10)
	a := netip.MustParseAddr("192.0.2.1")
	l.Allow(a, t0)
	if n := testing.AllocsPerRun(100, func() { l.Allow(a, t0) }); n != 0 {
		t.Errorf("Allow for a known source: %v allocations", n)
	}
}
