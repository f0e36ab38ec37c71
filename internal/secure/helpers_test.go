package secure_test

import "net/netip"

// The addresses the tests' conns sit at on udptest's network.
var (
	addrA = netip.MustParseAddrPort("10.0.0.1:1001")
	addrB = netip.MustParseAddrPort("10.0.0.2:1002")
	addrC = netip.MustParseAddrPort("10.0.0.3:1003")
)
