package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
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
		k, err := keys.GenerateKey()
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

// TestHistoryDamagedDatabase: one garbled page of udpchat.db, and every
// history command that meets it fails with exit 1 and one line naming the
// file and what to do, rather than print part of what was asked. The page
// is a leaf of the messages table holding one of 40 matches of a search:
// a scan of it fails, but the search looks rows up by seq, and SQLite's
// lookup in a garbled page finds nothing without an error, which once
// printed 39 matches and exited 0.
func TestHistoryDamagedDatabase(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	const n, every = 2000, 50 // 40 matches
	for i := range n {
		word := "filler"
		if i%every == 0 {
			word = "needle"
		}
		m := store.Message{ID: [16]byte{byte(i >> 8), byte(i)}, Peer: "127.0.0.1:9002", Kind: 2, Name: "bob",
			Text: fmt.Sprintf("%s %04d %s", word, i, strings.Repeat("lorem ipsum ", 10))}
		if _, err := st.AddIncoming(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil { // checkpoints the WAL into udpchat.db
		t.Fatal(err)
	}
	if got := historyTexts(t, dir, "--search", "needle"); len(got) != n/every {
		t.Fatalf("history --search needle of the sound file found %d, want %d", len(got), n/every)
	}

	path := filepath.Join(dir, store.DBName)
	garblePage(t, path, []byte("needle 1000"))
	want := "^udpchat: " + regexp.QuoteMeta(path) + " is not a udpchat database or is damaged .*: to see what is wrong, run sqlite3 " +
		regexp.QuoteMeta(path) + " 'PRAGMA integrity_check'; restore it from a backup, or move it aside .*$"
	for _, args := range [][]string{
		{"--search", "needle"},
		{"--search", "needle", "--limit", "5"}, // the damage is older than what it shows
		{"--search", "needle", "--json"},
		{"--search", "needle", "--peer", "127.0.0.1:9002"},
		{"--limit", "0"},
	} {
		wantFailure(t, append([]string{"history", "--data-dir", dir}, args...), 1, want)
	}
}

// garblePage overwrites with random bytes the page of the SQLite file at
// path that holds text, all but its 8-byte header, as a failing disk or a
// stray write might.
func garblePage(t *testing.T, path string, text []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, text)
	if i < 0 {
		t.Fatalf("%s does not hold %q", path, text)
	}
	pageSize := int(b[16])<<8 | int(b[17]) // the header's page size
	if pageSize == 1 {
		pageSize = 65536
	}
	rng := rand.New(rand.NewPCG(1, 2))
	page := i / pageSize * pageSize
	for j := page + 8; j < page+pageSize; j++ {
		b[j] = byte(rng.Uint32())
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryLimit: history used to stop at 1,000 lines without a word.
// Piped, it now prints everything; a --limit that leaves messages out
// says on stderr how many; on a terminal, where nobody reads more, the
// default is the newest 1,000.
func TestHistoryLimit(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = store.DefaultLimit + 5
	for i := range n {
		m := store.Message{ID: [16]byte{byte(i >> 8), byte(i)}, Peer: "127.0.0.1:9002", Kind: 2, Name: "bob", Text: fmt.Sprintf("m%04d", i)}
		if _, err := st.AddIncoming(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	for _, tc := range []struct {
		args       []string
		lines      int
		first      string // the text of the first line
		leftOutMsg string
	}{
		{nil, n, "m0000", ""},
		{[]string{"--limit", "0"}, n, "m0000", ""},
		{[]string{"--limit", "1000"}, 1000, "m0005", "udpchat: history: 5 older messages not shown (only the newest 1000); --limit 0 shows all\n"},
		{[]string{"--limit", "3", "--search", "m1003"}, 1, "m1003", ""},
		{[]string{"--limit", fmt.Sprint(n - 1), "--json"}, n - 1, "m0001", fmt.Sprintf("udpchat: history: 1 older message not shown (only the newest %d); --limit 0 shows all\n", n-1)},
		{[]string{"--limit", fmt.Sprint(n)}, n, "m0000", ""},
	} {
		h := udpchat(t, append([]string{"history", "--data-dir", dir}, tc.args...)...)
		if code := h.exit(t); code != 0 {
			t.Errorf("history %q: exit %d, want 0", tc.args, code)
		}
		lines := h.stdout.lines()
		if len(lines) != tc.lines || !strings.Contains(lines[0], tc.first) {
			t.Errorf("history %q: %d lines, the first %q; want %d from %s", tc.args, len(lines), lines[0], tc.lines, tc.first)
		}
		if got := h.stderr.String(); got != tc.leftOutMsg {
			t.Errorf("history %q: stderr %q, want %q", tc.args, got, tc.leftOutMsg)
		}
	}

	var h historyOptions
	fs := newHistoryFlags(&h)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		onTerminal bool
		want       int
	}{{true, store.DefaultLimit}, {false, allMessages}} {
		if q, err := h.query(ctx, time.Now(), tc.onTerminal); err != nil || q.Limit != tc.want {
			t.Errorf("no --limit, on a terminal %v: limit %d (%v), want %d", tc.onTerminal, q.Limit, err, tc.want)
		}
	}
}
