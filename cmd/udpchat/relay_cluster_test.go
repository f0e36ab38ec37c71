package main

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/relaycluster/natstest"
	"github.com/udpchat/udpchat/internal/wire"
)

// TestRelayClusterBinaries runs two relay binaries with --nats on one NATS
// server (internal/relaycluster tests the three-node cluster): mail put at
// relay A for someone offline is fetched at relay B, and once he is online
// at B, mail put at A reaches him at once, through B.
func TestRelayClusterBinaries(t *testing.T) {
	ns := natstest.Start(t, func(o *server.Options) { o.Username, o.Password = "relay", "s3cret" })
	creds := filepath.Join(t.TempDir(), "nats-auth")
	if err := os.WriteFile(creds, []byte("relay:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() (netip.AddrPort, keys.PublicKey, string) {
		dir := t.TempDir()
		id := udpchat(t, "relay", "id", "--data-dir", dir)
		id.wantExit(t, 0)
		var key keys.PublicKey
		if err := key.UnmarshalText([]byte(strings.SplitN(id.stdout.String(), "\n", 2)[0])); err != nil {
			t.Fatal(err)
		}
		srv := udpchat(t, "relay", "--listen", "127.0.0.1:0", "--data-dir", dir, "--nats", ns.ClientURL(), "--nats-creds", creds, "--metrics", "127.0.0.1:0")
		addr := netip.MustParseAddrPort(srv.stderr.waitLine(t, `"msg":"relay listening","addr":"([^"]+)"`)[1])
		return addr, key, srv.stderr.waitLine(t, `"msg":"metrics listening","addr":"([^"]+)"`)[1]
	}
	addrA, keyA, _ := start()
	addrB, keyB, metricsB := start()

	alice, bob := mustKey(t), mustKey(t)
	ac := relayClient(t, alice, addrA, keyA, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := ac.Register(ctx); err != nil {
		t.Fatal(err)
	}
	put := func(text string) {
		t.Helper()
		blob, err := relay.SealMail(alice, bob.Public(), []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if status, err := ac.PutMail(ctx, bob.Public(), blob); err != nil || status != wire.MailStored {
			t.Fatalf("PutMail at A: %d, %v", status, err)
		}
	}
	mails := make(chan relay.Mail, 4)
	get := func(want string) {
		t.Helper()
		select {
		case m := <-mails:
			if from, msg, err := relay.OpenMail(bob, m.Blob); err != nil || string(msg) != want || from != alice.Public() {
				t.Fatalf("bob opened %q from %s, %v; want %q from alice", msg, from.Fingerprint(), err, want)
			}
		case <-ctx.Done():
			t.Fatalf("bob got no %q at relay B", want)
		}
	}

	put("left at A")
	bc := relayClient(t, bob, addrB, keyB, func(m relay.Mail) { mails <- m })
	if _, err := bc.Register(ctx); err != nil {
		t.Fatal(err)
	}
	get("left at A")

	// Once A knows where bob is, what alice puts there goes to him at once.
	for {
		if got, err := ac.Lookup(ctx, bob.Public()); err != nil {
			t.Fatal(err)
		} else if len(got) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	put("while you are online")
	get("while you are online")

	resp, err := http.Get("http://" + metricsB + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`udpchat_relay_cluster_messages_total{direction="received"}`, "udpchat_relay_nats_connected 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("relay B's metrics lack %q", want)
		}
	}
}
