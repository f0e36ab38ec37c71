package relaycluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/relaycluster/natstest"
)

// TestThreeRelaysJoinAFreshClusterAtOnce: the three relays of a new
// cluster, started at the same moment as their NATS servers formed their
// cluster, each make the registry bucket and the mailbox stream (three
// replicas) at once, and each joins within the limit `udpchat relay`
// gives it.
func TestThreeRelaysJoinAFreshClusterAtOnce(t *testing.T) {
	ns := natstest.StartCluster(t, 3)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range ns.Nodes {
		nc := connect(t, ns, i)
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if _, err := Join(ctx, Config{Conn: nc, TTL: time.Minute, Replicas: 3}); err != nil {
				t.Errorf("relay %d: %v", i, err)
				return
			}
			if _, err := OpenMailboxes(ctx, MailConfig{Conn: nc, MaxPer: 32, MaxAge: time.Hour, Replicas: 3}); err != nil {
				t.Errorf("relay %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
}
