package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/identity"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/trust"
)

// A person is a key, not an address: alice has messages waiting for bob,
// who is down; bob comes back on another port and contacts alice. He gets
// every one exactly once, and alice's outbox empties.
func TestPeerBackFromAnotherPortGetsWhatWaited(t *testing.T) {
	const n = 10
	aliceDir, bobDir := privateDir(t), privateDir(t)
	aliceAddr, bobFirst, bobSecond := loopback(t), loopback(t), loopback(t)
	alice := chatAt(t, aliceDir, aliceAddr, "alice", "--json", "-p", bobFirst, "--timeout", "1m")
	alice.listening(t)
	bob := chatAt(t, bobDir, bobFirst, "bob")
	bob.listening(t)
	alice.stdout.waitFor(t, "bob joined", func() bool { return len(jsonEvents(t, alice.stdout, "joined")) == 1 })
	bob.wantExit(t, 0)
	alice.stdout.waitFor(t, "bob left", func() bool { return len(jsonEvents(t, alice.stdout, "left")) == 1 })

	alice.say(t, numbered(n)...)
	alice.stdout.waitFor(t, "every sent event", func() bool { return len(jsonEvents(t, alice.stdout, "sent")) == n })
	if pending := history(t, "--data-dir", aliceDir, "--pending"); len(pending) != n {
		t.Fatalf("alice's outbox while bob is away: %q, want %d", pending, n)
	}

	bob = chatAt(t, bobDir, bobSecond, "bob", "-p", aliceAddr)
	bob.listening(t)
	wantAllDelivered(t, alice, bob, aliceDir, n)
}

// A data dir of the schema before people (4), with a trust file that binds
// bob's address to his key: after a start, bob's old messages are his, by
// key; those with an address whose key was never known are said once, and
// a second start says nothing.
func TestHistoryByAddressMovesToPeople(t *testing.T) {
	aliceDir, bobDir := privateDir(t), privateDir(t)
	if id := udpchat(t, "id", "--data-dir", bobDir); id.exit(t) != 0 {
		t.Fatalf("udpchat id: %s", id.stderr)
	}
	bobKey, err := identity.Load(bobDir)
	if err != nil {
		t.Fatal(err)
	}
	const bobAddr, strangerAddr = "192.0.2.2:7475", "192.0.2.9:7475"
	known, err := trust.Open(aliceDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := known.Admit(netip.MustParseAddrPort(bobAddr), bobKey.Public(), "bob"); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", filepath.Join(aliceDir, "udpchat.db"))
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 4; v++ {
		m, err := filepath.Glob(filepath.Join("..", "..", "internal", "store", "migrations", fmt.Sprintf("%04d_*.sql", v)))
		if err != nil || len(m) != 1 {
			t.Fatalf("migration %d: %v %v", v, m, err)
		}
		schema, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(schema)); err != nil {
			t.Fatalf("%s: %v", m[0], err)
		}
	}
	if _, err := db.Exec("PRAGMA user_version = 4"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var bobTexts []string
	for i, peer := range []string{bobAddr, bobAddr, bobAddr, strangerAddr, strangerAddr} {
		text := fmt.Sprintf("old %d with %s", i, peer)
		_, err := db.Exec(`INSERT INTO messages (peer, id, direction, kind, name, text, at, state, shown) VALUES (?, ?, 1, 2, ?, ?, ?, 3, 1)`,
			peer, []byte(fmt.Sprintf("id-%013d", i)), "someone", text, at.Add(time.Duration(i)*time.Minute).UnixNano())
		if err != nil {
			t.Fatal(err)
		}
		if peer == bobAddr {
			bobTexts = append(bobTexts, text)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	const notice = "udpchat: 2 messages with " + strangerAddr + ", whose key was never known, stay in the history under that address"
	first := chatAt(t, aliceDir, anyPort, "alice", "--no-discovery")
	first.listening(t)
	first.wantExit(t, 0)
	if got := strings.Count(first.stderr.String(), notice); got != 1 {
		t.Errorf("the first start said %d times %q; stderr:\n%s", got, notice, first.stderr)
	}
	second := chatAt(t, aliceDir, anyPort, "alice", "--no-discovery")
	second.listening(t)
	second.wantExit(t, 0)
	if strings.Contains(second.stderr.String(), "whose key") {
		t.Errorf("the second start spoke of the history again; stderr:\n%s", second.stderr)
	}

	st, err := store.Open(context.Background(), aliceDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, err := st.History(context.Background(), store.Query{People: [][32]byte{bobKey.Public()}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Text)
	}
	if !slices.Equal(got, bobTexts) {
		t.Errorf("bob's history by key: %q, want %q", got, bobTexts)
	}
	c, err := st.Contact(context.Background(), bobKey.Public())
	if err != nil || c.Name() != "someone" || len(c.Endpoints) != 1 || c.Endpoints[0].Address != bobAddr {
		t.Errorf("bob's contact: %+v (%v), want the name in his messages, at his address", c, err)
	}
}
