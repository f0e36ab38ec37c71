package relaycluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

// TestTransientErrors: a create is tried again for what passes by itself,
// and not for what another try cannot change.
func TestTransientErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("try: %w", context.DeadlineExceeded), true},
		{nats.ErrNoResponders, true},
		{&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamNameInUse, Description: "stream name already in use with a different configuration"}, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{jetstream.ErrJetStreamNotEnabled, false},
		{&jetstream.APIError{Code: 500, ErrorCode: 10074, Description: "replicas > 1 not supported in non-clustered mode"}, false},
		{errors.New("nats: invalid subject"), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
