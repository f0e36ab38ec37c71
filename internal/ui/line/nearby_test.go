package line

import (
	"net/netip"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
)

// Whom LAN discovery hears is a "* nearby:" or "* gone:" line on stderr, with
// the address and key to pick them by; --json has "nearby" and "gone" events
// with the fields of "joined". A name is the sender's choice, so it is
// escaped like every other.
func TestNearbyLines(t *testing.T) {
	const fp = "BLAKE2s:IP35-TCWW-7QXK-M4ZD-2B6N-HJ3R-LV5S-QAEY"
	carol := netip.MustParseAddrPort("192.0.2.7:7475")
	for _, tc := range []struct {
		ev         chat.Event
		text, json string
	}{
		{chat.Nearby{Name: "carol", Fingerprint: fp, Addr: carol},
			"* nearby: carol (192.0.2.7:7475, key " + fp + ")\n",
			`{"type":"nearby","peer":"192.0.2.7:7475","name":"carol","fingerprint":"` + fp + `"}` + "\n"},
		{chat.Gone{Name: "carol", Fingerprint: fp, Addr: carol},
			"* gone: carol (192.0.2.7:7475, key " + fp + ")\n",
			`{"type":"gone","peer":"192.0.2.7:7475","name":"carol","fingerprint":"` + fp + `"}` + "\n"},
		{chat.Nearby{Name: "\x1b[2Jcarol", Fingerprint: fp, Addr: carol},
			"* nearby: \\x1b[2Jcarol (192.0.2.7:7475, key " + fp + ")\n", ""},
	} {
		wantShown(t, tc.ev, tc.text, tc.json)
	}
}
