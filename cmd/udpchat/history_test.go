package main

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/trust"
)

// TestHistoryPeerName: history --peer NAME (and --pending --peer NAME)
// lists the messages exchanged with every address the name stands for,
// from the history (who sent under that name) and from the known peers
// (who is bound to it), and nobody else's; a name nobody has is an error,
// not an empty listing. The data dir's store stays open for writing
// throughout, as a running chat holds it, and at first there is no
// known_peers file at all.
func TestHistoryPeerName(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var n byte
	add := func(out bool, peer, name, text string) {
		t.Helper()
		n++
		m := store.Message{ID: [16]byte{n}, Peer: peer, Kind: 2, Name: name, Text: text}
		if out {
			err = st.AddOutgoing(ctx, m) // pending: nobody acknowledges it
		} else {
			_, err = st.AddIncoming(ctx, m)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	add(false, "127.0.0.1:9002", "bob", "hi from bob")
	add(true, "127.0.0.1:9002", "alice", "hello bob")
	add(false, "127.0.0.1:9003", "carol", "carol here")
	add(true, "127.0.0.1:9003", "alice", "hello carol")
	add(false, "127.0.0.1:9005", "Bob", "another Bob") // names are case-sensitive
	add(true, "127.0.0.1:9004", "alice", "to bob's new address")
	add(true, "127.0.0.1:9006", "alice", "to dave")

	lists := func(t *testing.T, want []string, args ...string) {
		t.Helper()
		var got []string
		for _, l := range history(t, append([]string{"--data-dir", dir, "--json"}, args...)...) {
			var m struct{ Text string }
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("history --json line %q: %v", l, err)
			}
			got = append(got, m.Text)
		}
		if !slices.Equal(got, want) {
			t.Errorf("history %q: %q, want %q", args, got, want)
		}
	}
	noSuchName := func(t *testing.T, name string, args ...string) {
		t.Helper()
		args = append([]string{"history", "--data-dir", dir, "--peer", name}, args...)
		wantFailure(t, args, 1, noPeerNamed(name))
	}

	// From the history alone.
	lists(t, []string{"hi from bob", "hello bob"}, "--peer", "bob")
	lists(t, []string{"hello bob"}, "--pending", "--peer", "bob")
	lists(t, []string{"another Bob"}, "--peer", "Bob")
	lists(t, []string{"carol here", "hello carol"}, "--peer", "127.0.0.1:9003")
	noSuchName(t, "dave")
	noSuchName(t, "dave", "--pending")
	noSuchName(t, "BOB")
	noSuchName(t, "alice") // our own name, on what we sent, is no peer's

	// The known peers bind bob to his new address, and dave to his.
	known, err := trust.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct{ name, addr string }{
		{"bob", "127.0.0.1:9004"},
		{"dave", "127.0.0.1:9006"},
		{"erin", ""}, // a name with no address
	} {
		k, err := secure.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		fp := k.Public().Fingerprint()
		if err := known.Trust(b.name, fp, true); err != nil {
			t.Fatal(err)
		}
		if b.addr != "" {
			if err := known.Trust(b.addr, fp, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	lists(t, []string{"hi from bob", "hello bob", "to bob's new address"}, "--peer", "bob")
	lists(t, []string{"hello bob", "to bob's new address"}, "--pending", "--peer", "bob")
	lists(t, []string{"to dave"}, "--peer", "dave", "--search", "dave")
	lists(t, []string{"to dave"}, "--pending", "--peer", "dave")
	lists(t, []string{"carol here", "hello carol"}, "--peer", "carol")
	noSuchName(t, "erin")
}

// historyDir is a data dir with an empty history, for tests of what
// history refuses.
func historyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// noPeerNamed is the one line history prints for a --peer name it cannot
// find, as a regexp.
func noPeerNamed(name string) string {
	return "^" + regexp.QuoteMeta(`udpchat: no peer named "`+name+`" in the history or the known peers`) + "$"
}
