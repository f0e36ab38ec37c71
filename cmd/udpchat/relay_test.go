package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

func TestRelayHelpListsEveryFlag(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"relay", "--help"}, []string{"--listen", "--metrics", "--data-dir", "--mailbox-max", "--mailbox-age", "--max-clients", "--verbose", "--nats", "--nats-creds", "--nats-replicas", "7477"}},
		{[]string{"relay", "id", "-h"}, []string{"--data-dir"}},
		{[]string{"--help"}, []string{"udpchat relay"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			p := udpchat(t, tc.args...)
			p.wantExit(t, 0)
			for _, f := range tc.flags {
				if !strings.Contains(p.stdout.String(), f) {
					t.Errorf("help does not mention %s:\n%s", f, p.stdout)
				}
			}
		})
	}
}

func TestRelayUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"relay", "--bogus"}, `unknown flag: --bogus \(see 'udpchat relay --help'\)`},
		{[]string{"relay", "now"}, `unexpected argument "now"`},
		{[]string{"relay", "--mailbox-max", "0"}, `must be more than zero`},
		{[]string{"relay", "--listen", "localhost:7477"}, `bad address`},
		{[]string{"relay", "id", "x"}, `unexpected argument "x": relay id takes none`},
		{[]string{"relay", "--nats-replicas", "0"}, `must be more than zero`},
		{[]string{"relay", "--nats", "nats://127.0.0.1:1", "--nats-creds", "/nonexistent/nats-auth"}, `--nats-creds: open /nonexistent/nats-auth`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			wantUsageError(t, tc.args, tc.want)
		})
	}
}

// TestRelayServesAndKeepsMailAcrossRestart runs the relay binary: a client
// pinned to the key relay id printed registers and leaves mail for someone
// offline; the relay is stopped (SIGTERM) and started again on its data
// dir; the recipient comes and gets the mail.
func TestRelayServesAndKeepsMailAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	id := udpchat(t, "relay", "id", "--data-dir", dir)
	id.wantExit(t, 0)
	lines := strings.Split(strings.TrimSpace(id.stdout.String()), "\n")
	var relayKey keys.PublicKey
	if len(lines) != 2 || relayKey.UnmarshalText([]byte(lines[0])) != nil || lines[1] != relayKey.Fingerprint() {
		t.Fatalf("relay id printed %q, want the key and its fingerprint", lines)
	}

	port := freeUDPPort(t)
	srv := udpchat(t, "relay", "--listen", "127.0.0.1:"+port, "--data-dir", dir, "--metrics", "127.0.0.1:0")
	addr := netip.MustParseAddrPort(srv.stderr.waitLine(t, `"msg":"relay listening","addr":"([^"]+)"`)[1])
	metrics := srv.stderr.waitLine(t, `"msg":"metrics listening","addr":"([^"]+)"`)[1]

	alice, bob := mustKey(t), mustKey(t)
	ac := relayClient(t, alice, addr, relayKey, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ac.Register(ctx); err != nil {
		t.Fatal(err)
	}
	blob, err := relay.SealMail(alice, bob.Public(), []byte("hello bob"))
	if err != nil {
		t.Fatal(err)
	}
	if status, err := ac.PutMail(ctx, bob.Public(), blob); err != nil || status != wire.MailStored {
		t.Fatalf("PutMail: %d, %v", status, err)
	}
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"udpchat_relay_clients 1", `udpchat_relay_mail_total{event="stored"} 1`, "udpchat_relay_mailbox_blobs 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if code := srv.exit(t); code != 0 {
		t.Fatalf("relay exited %d on SIGTERM; stderr:\n%s", code, srv.stderr)
	}

	srv = udpchat(t, "relay", "--listen", "127.0.0.1:"+port, "--data-dir", dir)
	srv.stderr.waitLine(t, `"msg":"relay listening"`)
	mails := make(chan relay.Mail, 4)
	bc := relayClient(t, bob, addr, relayKey, func(m relay.Mail) { mails <- m })
	if _, err := bc.Register(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-mails:
		if from, msg, err := relay.OpenMail(bob, m.Blob); err != nil || string(msg) != "hello bob" || from != alice.Public() {
			t.Fatalf("bob opened %q from %s, %v", msg, from.Fingerprint(), err)
		}
	case <-ctx.Done():
		t.Fatal("bob got no mail from the restarted relay")
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if code := srv.exit(t); code != 0 {
		t.Errorf("relay exited %d; stderr:\n%s", code, srv.stderr)
	}
	if !regexp.MustCompile(`"msg":"relay stopped"`).MatchString(srv.stderr.String()) {
		t.Errorf("no structured log of the stop:\n%s", srv.stderr)
	}
}

func mustKey(t *testing.T) keys.PrivateKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// relayClient is a relay.Client on its own loopback socket, pinned to the
// relay's key, reading until the test ends.
func relayClient(t *testing.T, key keys.PrivateKey, addr netip.AddrPort, relayKey keys.PublicKey, onMail func(relay.Mail)) *relay.Client {
	t.Helper()
	sock, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := secure.NewConn(sock, secure.Config{
		Static:   key,
		KnownKey: func(netip.AddrPort) (keys.PublicKey, bool) { return relayKey, true },
		Verify: func(_ netip.AddrPort, k keys.PublicKey) error {
			if k != relayKey {
				return errAnotherKey
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := relay.NewClient(relay.ClientConfig{Conn: sec, Relay: addr, OnMail: onMail, Retry: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); sec.Close(); <-done })
	return c
}

var errAnotherKey = errors.New("not the relay's key")
