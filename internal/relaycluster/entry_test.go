package relaycluster

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestEntryRoundTripAndRefusals(t *testing.T) {
	e := entry{relay: "0123456789abcdef", since: time.UnixMilli(1_800_000_000_123), candidates: []netip.AddrPort{
		netip.MustParseAddrPort("203.0.113.7:40000"), netip.MustParseAddrPort("[2001:db8::1]:7475"),
	}}
	b, err := encodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(b)
	if err != nil || got.relay != e.relay || !got.since.Equal(e.since) || !slices.Equal(got.candidates, e.candidates) {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, e)
	}
	for _, bad := range []string{
		``, `{}`, `{"relay":"A B","candidates":[],"since":1}`,
		`{"relay":"r","candidates":[]}`,
		`{"relay":"r","candidates":["1.2.3.4:0"],"since":1}`,
		`{"relay":"r","candidates":["[::ffff:1.2.3.4]:5"],"since":1}`,
		`{"relay":"r","candidates":["1.1.1.1:1","1.1.1.1:2","1.1.1.1:3","1.1.1.1:4","1.1.1.1:5","1.1.1.1:6","1.1.1.1:7","1.1.1.1:8","1.1.1.1:9"],"since":1}`,
	} {
		if _, err := decodeEntry([]byte(bad)); err == nil {
			t.Errorf("decodeEntry(%s) took it", bad)
		}
	}
}

// FuzzDecodeEntry: a registry value comes from anyone who may write to the
// bucket. Whatever decodes encodes again to the same entry.
func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte(`{"relay":"0123456789abcdef","candidates":["203.0.113.7:40000"],"since":1800000000123}`))
	f.Add([]byte(`{"relay":"r","candidates":[],"since":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		again, err := encodeEntry(e)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", e, err)
		}
		e2, err := decodeEntry(again)
		if err != nil || e2.relay != e.relay || !e2.since.Equal(e.since) || !slices.Equal(e2.candidates, e.candidates) {
			t.Fatalf("round trip %+v -> %+v, %v", e, e2, err)
		}
	})
}
