package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/udpchat/udpchat/internal/relay/mailclient"
	"github.com/udpchat/udpchat/internal/relay/relaypath"
	"github.com/udpchat/udpchat/internal/udp"
)

// noPunchEnv, set to 1, keeps the chat from probing for direct paths: the
// relay carries everything. It is for tests of the relayed path on one
// machine, where every direct path works.
const noPunchEnv = "UDPCHAT_NO_PUNCH"

// openRelayPath is the relay path --relay (or the data dir) names (one
// relay or several, one in use at a time), the
// mailbox that goes with it, and the conn the secure layer is to run on:
// sock itself without a relay, else the path's, which reaches relayed
// people through it. udpchat send (sendOnly) reaches people through a
// relay only if it is given one, and fetches no mail; a relay remembered
// is for mailboxes alone (relayOnDemand).
func openRelayPath(ctx context.Context, given string, sendOnly bool, sock udp.Conn, dataDir string, log *slog.Logger) (*relaypath.Path, *mailclient.Mailbox, udp.Conn, error) {
	specs, err := relaypath.Choose(given, dataDir)
	if err != nil || len(specs) == 0 {
		return nil, nil, sock, relaySpecUsage(err)
	}
	cfg := relaypath.Config{Relays: specs, Sock: sock, DataDir: dataDir, Log: log, Nets: localNets(), NoPunch: os.Getenv(noPunchEnv) == "1",
		OnDemand: relayOnDemand(given, sendOnly)}
	var mb *mailclient.Mailbox
	if !sendOnly {
		mb = mailclient.New(log)
		cfg.OnMail = mb.OnMail
	}
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	rp, err := relaypath.New(rctx, cfg)
	if err == nil {
		for i, addr := range rp.Addrs() {
			if ferr := checkFamily("--relay "+specs[i].Host, addr, sock.LocalAddr()); ferr != nil {
				err = usageError{ferr}
			}
		}
	}
	switch {
	case err != nil && cfg.OnDemand:
		// Not asked for: send goes on as without a relay.
		log.Debug("relay: the one remembered cannot be used", "relay", specs, "err", err)
		return nil, nil, sock, nil
	case err != nil:
		return nil, nil, nil, relaySpecUsage(err)
	}
	return rp, mb, rp.Conn(), nil
}

// relayOnDemand says the relay is for mailboxes alone, registered with
// only when a message is to be held: udpchat send with a relay it was not
// given. The relay knows one address per key, so a registration takes the
// chat's (on the same data dir) away from it until the chat's next refresh
// or message to the relay.
func relayOnDemand(given string, sendOnly bool) bool { return sendOnly && given == "" }

// relaySpecUsage makes the relay path's mistakes in --relay usage errors.
func relaySpecUsage(err error) error {
	if ue := (relaypath.UsageError{}); errors.As(err, &ue) {
		return usageError{err}
	}
	return err
}
