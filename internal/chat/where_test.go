package chat

import (
	"net/netip"
	"testing"
)

// TestPeerWhere: what the UIs show of where a peer is: its address; where
// it moved; the path beside that when there is more than one way; only the
// path while the relay carries it (its handle is no place).
func TestPeerWhere(t *testing.T) {
	handle := netip.MustParseAddrPort("[100::1]:7477")
	direct := netip.MustParseAddrPort("198.51.100.7:7475")
	for _, tc := range []struct {
		info PeerInfo
		want string
	}{
		{PeerInfo{Addr: direct}, "198.51.100.7:7475"},
		{PeerInfo{Addr: handle, Endpoint: direct}, "198.51.100.7:7475"},
		{PeerInfo{Addr: handle, Path: "relayed via relay.example:7477"}, "relayed via relay.example:7477"},
		{PeerInfo{Addr: handle, Endpoint: direct, Path: "direct"}, "198.51.100.7:7475, direct"},
	} {
		if got := tc.info.Where(); got != tc.want {
			t.Errorf("%+v: Where() = %q, want %q", tc.info, got, tc.want)
		}
	}
}
