package integration_test

import (
	"fmt"
	"testing"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
)

// TestPathMTUNamespace: A and B in network namespaces of their own, joined
// by a veth pair of a given MTU. Each side's packets grow to what the link
// carries — the MTU less the IPv4 and UDP headers and the encryption — and
// no further: the sockets set Don't Fragment, so a larger probe is refused
// rather than fragmented, and counts as a lost probe, not a lost packet.
func TestPathMTUNamespace(t *testing.T) {
	for _, mtu := range []int{1400, 9000} {
		t.Run(fmt.Sprint("mtu", mtu), func(t *testing.T) {
			nsA, nsB := vethPair(t, "udpc-pmtu", "10.199.77", mtu)
			a := newChatter(t, listenIn(t, nsA, "10.199.77.1:0"), secure.Config{Static: securetest.MustKey(t)})
			b := newChatter(t, listenIn(t, nsB, "10.199.77.2:0"), secure.Config{Static: securetest.MustKey(t)})
			defer a.close()
			defer b.close()
			checkPathMTU(t, a, b, mtu-20-8-secure.Overhead)
		})
	}
}
