package relaycluster

import (
	"testing"

	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/relaycluster/natstest"
)

// BenchmarkForwardOneAtATime is the time one datagram takes from client to
// client through the relays, sent when the last one has arrived (BENCHMARKS.md,
// "Relay cluster"): between two clients of one relay, and between clients of
// two relays, where it crosses NATS (a publish, a route between two NATS
// nodes, a delivery) on top. Side by side on one three-node NATS cluster in
// this process, on loopback.
func BenchmarkForwardOneAtATime(b *testing.B) {
	ns := natstest.StartCluster(b, 3)
	unlimited := relay.Config{Rate: 1e9, Burst: 1 << 30} // no client's rate limit in the way
	a := startClusterRelay(b, connect(b, ns, 0), unlimited)
	c := startClusterRelay(b, connect(b, ns, 1), unlimited)
	alice := startClient(b, a, newKey(b))
	payload := make([]byte, 1000)
	for _, tc := range []struct {
		name string
		at   *clusterRelay
	}{{"same-relay", a}, {"across-relays", c}} {
		b.Run(tc.name, func(b *testing.B) {
			bob := startClient(b, tc.at, newKey(b))
			to := bob.key.Public()
			eventually(b, "relay A knows bob", func() bool {
				_, remote := a.cluster.Locate(to)
				return remote == (tc.at != a)
			})
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			for range b.N {
				if err := alice.Forward(to, payload); err != nil {
					b.Fatal(err)
				}
				receive(b, bob.delivered, "the datagram")
			}
		})
	}
}
