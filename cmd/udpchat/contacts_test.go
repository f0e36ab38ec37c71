package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/identity"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/store"
)

// contactsLab is a data dir whose store holds two contacts and what was
// said with them, as a chat would have recorded it: bob, heard on the LAN
// a moment ago and written to from 127.0.0.1:9002, with one message each
// way (ours still pending); carol, given with --peer long ago, with one
// message pending. The store is open, as a running chat holds it, until
// close.
type contactsLab struct {
	dir        string
	st         *store.MessageDB
	bob, carol [32]byte
	bobFP      string
	carolFP    string
}

func newContactsLab(t *testing.T) *contactsLab {
	t.Helper()
	ctx := t.Context()
	l := &contactsLab{dir: t.TempDir()}
	var err error
	if l.st, err = store.Open(ctx, l.dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.st.Close() })
	l.bob, l.bobFP = contactKey(t)
	l.carol, l.carolFP = contactKey(t)
	now := time.Now()
	for _, sg := range []store.Sighting{
		{Key: l.bob, AnnouncedName: "bob", Address: "127.0.0.1:9002", Source: store.FromPacket, At: now.Add(-time.Hour)},
		{Key: l.bob, AnnouncedName: "bob", Address: "192.0.2.7:7475", Source: store.FromDiscovery, At: now.Add(-time.Second)},
		{Key: l.carol, AnnouncedName: "carol", Address: "127.0.0.1:9003", Source: store.FromFlag, At: now.Add(-48 * time.Hour)},
	} {
		if err := l.st.ContactSeen(ctx, sg); err != nil {
			t.Fatal(err)
		}
	}
	// The chat marks a contact heard on the LAN apart from its endpoints.
	if ok, err := l.st.ContactNearby(ctx, l.bob, now.Add(-time.Second)); !ok || err != nil {
		t.Fatalf("ContactNearby(bob) = %v, %v", ok, err)
	}
	for i, m := range []store.Message{
		{Peer: "127.0.0.1:9002", Person: l.bob, Direction: store.Incoming, Name: "bob", Text: "hi from bob"},
		{Peer: "127.0.0.1:9002", Person: l.bob, Name: "alice", Text: "hello bob"},
		{Peer: "127.0.0.1:9003", Person: l.carol, Name: "alice", Text: "hello carol"},
	} {
		m.ID, m.Kind, m.At = [16]byte{byte(i + 1)}, 2, now.Add(time.Duration(i-10)*time.Minute)
		if m.Direction == store.Incoming {
			_, err = l.st.AddIncoming(ctx, m)
		} else {
			err = l.st.AddOutgoing(ctx, m)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// close closes the store, as a chat that leaves does, so that rename and
// forget may change it.
func (l *contactsLab) close(t *testing.T) {
	t.Helper()
	if err := l.st.Close(); err != nil {
		t.Fatal(err)
	}
}

func contactKey(t *testing.T) (key [32]byte, fp string) {
	t.Helper()
	k := newKey(t)
	return [32]byte(k), k.Fingerprint()
}

// contacts runs udpchat contacts on dir with args and returns its stdout,
// failing unless it exits 0.
func (l *contactsLab) contacts(t *testing.T, args ...string) string {
	t.Helper()
	return runOK(t, append([]string{"contacts", "--data-dir", l.dir}, args...)...)
}

// A data dir with no history, or with no contacts in it, lists none,
// kindly, and exits 0; --json prints nothing.
func TestContactsEmpty(t *testing.T) {
	for _, dir := range []string{filepath.Join(t.TempDir(), "never-used"), historyDir(t)} {
		want := "No contacts yet: udpchat adds the people you chat with.\n"
		if got := runOK(t, "contacts", "--data-dir", dir); got != want {
			t.Errorf("contacts on %s: %q, want %q", dir, got, want)
		}
		if got := runOK(t, "contacts", "--data-dir", dir, "--json"); got != "" {
			t.Errorf("contacts --json on %s: %q, want nothing", dir, got)
		}
	}
}

// contacts lists each person by name, with their fingerprint, where they
// were seen (how, when), and whether they were nearby as last heard,
// beside a chat that holds the store.
func TestContactsList(t *testing.T) {
	l := newContactsLab(t)
	out := l.contacts(t)
	for _, want := range []string{
		`(?m)^bob  ` + regexp.QuoteMeta(l.bobFP) + `$`,
		`(?m)^  last seen \S+ \S+, nearby as last heard$`,
		`(?m)^  192\.0\.2\.7:7475  heard on the LAN  \S+ \S+$`,
		`(?m)^  127\.0\.0\.1:9002  wrote from it     \S+ \S+$`,
		`(?m)^carol  ` + regexp.QuoteMeta(l.carolFP) + `\n  last seen \S+ \S+, not nearby as last heard\n  127\.0\.0\.1:9003  given with --peer  `,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("contacts printed:\n%s\nwant a match for %s", out, want)
		}
	}

	var got []contactJSON
	for _, line := range strings.Split(strings.TrimSuffix(l.contacts(t, "--json"), "\n"), "\n") {
		var c contactJSON
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("contacts --json line %q: %v", line, err)
		}
		got = append(got, c)
	}
	if len(got) != 2 {
		t.Fatalf("contacts --json: %d contacts, want 2: %+v", len(got), got)
	}
	bob, carol := got[0], got[1]
	if bob.Name != "bob" || bob.AnnouncedName != "bob" || bob.GivenName != "" || bob.Fingerprint != l.bobFP || !bob.Nearby ||
		len(bob.Endpoints) != 2 || bob.Endpoints[0].Address != "192.0.2.7:7475" || bob.Endpoints[0].Source != "discovery" ||
		bob.Endpoints[1].Source != "packet" || bob.LastSeen != bob.Endpoints[0].LastSeen {
		t.Errorf("contacts --json: bob is %+v", bob)
	}
	if carol.Name != "carol" || carol.Fingerprint != l.carolFP || carol.Nearby || len(carol.Endpoints) != 1 || carol.Endpoints[0].Source != "flag" {
		t.Errorf("contacts --json: carol is %+v", carol)
	}
}

// rename gives bob a name of the user's choosing: contacts shows it with
// the one he announces, and history --peer (and --pending --peer) find
// his messages by it, or by his fingerprint, typed any how.
func TestContactsRename(t *testing.T) {
	l := newContactsLab(t)
	wantFailure(t, []string{"contacts", "--data-dir", l.dir, "rename", "bob", "robert"}, 1,
		`^udpchat: cannot rename while another udpchat is using .*: stop it first`)
	l.close(t)

	if got, want := l.contacts(t, "rename", "bob", "robert"), "bob ("+l.bobFP+") is now called robert\n"; got != want {
		t.Errorf("rename said %q, want %q", got, want)
	}
	if out := l.contacts(t); !strings.Contains(out, `robert (announces "bob")  `+l.bobFP+"\n") {
		t.Errorf("contacts after rename:\n%s", out)
	}
	looseFP := strings.ToLower(strings.ReplaceAll(l.bobFP, "-", ""))
	for _, peer := range []string{"robert", l.bobFP, looseFP} {
		if got, want := historyTexts(t, l.dir, "--peer", peer), []string{"hi from bob", "hello bob"}; !slices.Equal(got, want) {
			t.Errorf("history --peer %s: %q, want %q", peer, got, want)
		}
		if got, want := pendingTexts(t, l.dir, "--peer", peer), []string{"hello bob"}; !slices.Equal(got, want) {
			t.Errorf("history --pending --peer %s: %q, want %q", peer, got, want)
		}
	}
	// No contact is called bob now; the name he wrote under still finds
	// his address's messages, as before there were contacts.
	if got, want := historyTexts(t, l.dir, "--peer", "bob"), []string{"hi from bob", "hello bob"}; !slices.Equal(got, want) {
		t.Errorf("history --peer bob: %q, want %q", got, want)
	}
	wantFailure(t, []string{"history", "--data-dir", l.dir, "--peer", "roberta"}, 1, noPeerNamed("roberta"))
	// A contact is found by an address he was seen at, too.
	if got := l.contacts(t, "rename", "127.0.0.1:9003", "caz"); !strings.HasPrefix(got, "carol ("+l.carolFP+") is now called caz") {
		t.Errorf("rename by address said %q", got)
	}
}

// forget cancels what waits for a contact, says what, and drops him; what
// was said stays. In a pipe it needs --yes; --cancel-peer cancels by
// person and keeps the contact.
func TestContactsForget(t *testing.T) {
	l := newContactsLab(t)
	l.close(t)
	wantUsageError(t, []string{"contacts", "--data-dir", l.dir, "forget", "bob"},
		`^udpchat: forget bob: not asking, as the input is not a terminal; give --yes to forget without asking \(see 'udpchat contacts --help'\)$`)

	out := l.contacts(t, "forget", "--yes", "bob")
	want := `^forgot bob \(` + regexp.QuoteMeta(l.bobFP) + `\); cancelled 1 message, which will not be sent:\n` +
		`\S+ \S+  -> 127\.0\.0\.1:9002  \[cancelled [0-9a-f]+\]  alice: hello bob\n$`
	if !regexp.MustCompile(want).MatchString(out) {
		t.Errorf("forget said %q, want a match for %s", out, want)
	}
	if out := l.contacts(t); strings.Contains(out, "bob") || !strings.Contains(out, "carol") {
		t.Errorf("contacts after forgetting bob:\n%s", out)
	}
	if got, want := historyTexts(t, l.dir, "--peer", "127.0.0.1:9002"), []string{"hi from bob", "hello bob"}; !slices.Equal(got, want) {
		t.Errorf("bob's history after forget: %q, want %q", got, want)
	}
	if got, want := pendingTexts(t, l.dir), []string{"hello carol"}; !slices.Equal(got, want) {
		t.Errorf("outbox after forgetting bob: %q, want %q", got, want)
	}

	out = runOK(t, "history", "--data-dir", l.dir, "--cancel-peer", "carol")
	if want := "cancelled 1 message to carol (" + l.carolFP + "): they will not be sent again\n"; out != want {
		t.Errorf("--cancel-peer carol said %q, want %q", out, want)
	}
	if got := pendingTexts(t, l.dir); len(got) != 0 {
		t.Errorf("outbox after --cancel-peer carol: %q", got)
	}
	if out := l.contacts(t); !strings.Contains(out, "carol") {
		t.Errorf("--cancel-peer dropped carol:\n%s", out)
	}
}

// A peer that is no contact's, or that two contacts answer to, is one
// line and exit 2; the ambiguous one names both, by fingerprint.
func TestContactsUnknownAndAmbiguous(t *testing.T) {
	l := newContactsLab(t)
	other, otherFP := contactKey(t)
	if err := l.st.ContactSeen(t.Context(), store.Sighting{Key: other, AnnouncedName: "bob", Address: "127.0.0.1:9002", Source: store.FromPacket}); err != nil {
		t.Fatal(err)
	}
	l.close(t)
	noFP, _ := contactKey(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"forget", "--yes", "nobody"}, `^udpchat: no contact is "nobody" \(udpchat contacts lists them\)`},
		{[]string{"rename", keys.PublicKey(noFP).Fingerprint(), "x"}, `^udpchat: no contact is "BLAKE2s:`},
		{[]string{"rename", "127.0.0.1:1", "x"}, `^udpchat: no contact is "127.0.0.1:1"`},
		{[]string{"rename", "bob", "x"}, `^udpchat: 2 contacts are "bob": bob \(BLAKE2s:.*\), bob \(BLAKE2s:.*\); name one by its fingerprint`},
		{[]string{"forget", "--yes", "127.0.0.1:9002"}, `^udpchat: 2 contacts are "127.0.0.1:9002": `},
		{[]string{"rename", "carol", "a:b"}, `^udpchat: rename to "a:b": name "a:b" contains a colon`},
		{[]string{"--json", "forget", "carol"}, `^udpchat: --json is for the listing, not forget`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			wantUsageError(t, append([]string{"contacts", "--data-dir", l.dir}, tc.args...), tc.want)
		})
	}
	// Either bob, by his fingerprint.
	if got := l.contacts(t, "rename", otherFP, "bob2"); !strings.HasSuffix(got, "is now called bob2\n") {
		t.Errorf("rename by fingerprint said %q", got)
	}
}

// On a terminal, forget asks, and does nothing unless the answer is yes.
func TestContactsForgetAsks(t *testing.T) {
	l := newContactsLab(t)
	l.close(t)
	for _, answer := range []string{"n\n", "", "yes\n"} {
		var out, errOut strings.Builder
		err := forgetContact(context.Background(), l.dir, "carol", false, stdio{strings.NewReader(answer), &out, &errOut})
		prompt := "Forget carol (" + l.carolFP + "), and cancel the 1 message waiting for them? [y/N] "
		if errOut.String() != prompt {
			t.Errorf("answer %q: asked %q, want %q", answer, errOut.String(), prompt)
		}
		if answer != "yes\n" {
			if err == nil || err.Error() != "nothing forgotten" || out.Len() > 0 {
				t.Errorf("answer %q: %v, printed %q; want nothing forgotten", answer, err, out.String())
			}
			continue
		}
		if err != nil || !strings.HasPrefix(out.String(), "forgot carol") {
			t.Errorf("answer yes: %v, printed %q", err, out.String())
		}
	}
}

// pendingTexts is the text of every message history --pending lists in
// dir, oldest first.
func pendingTexts(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	var out []string
	for _, l := range history(t, append([]string{"--data-dir", dir, "--json", "--pending"}, args...)...) {
		var m struct{ Text string }
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("history --json line %q: %v", l, err)
		}
		out = append(out, m.Text)
	}
	return out
}

// send -p NAME finds the contact the user gave that name, at the address
// he was last seen at, reading the contacts beside the store a chat holds.
func TestSendToContactByGivenName(t *testing.T) {
	bobDir := t.TempDir()
	bob := udpchat(t, "-l", anyPort, "-n", "bob", "--data-dir", bobDir)
	bobAddr := bob.listening(t)
	bobKey, err := identity.Load(bobDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	aliceDir := t.TempDir()
	st, err := store.Open(ctx, aliceDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := [32]byte(bobKey.Public())
	if err := st.ContactSeen(ctx, store.Sighting{Key: key, AnnouncedName: "bob", Address: bobAddr, Source: store.FromPacket}); err != nil {
		t.Fatal(err)
	}
	if err := st.Rename(ctx, key, "robert"); err != nil {
		t.Fatal(err)
	}

	send := udpchat(t, "send", "-p", "robert", "--data-dir", aliceDir, "--name", "alice", "hi robert")
	if code := send.exit(t); code != 0 {
		t.Errorf("send -p robert exited %d, want 0; stderr:\n%s", code, send.stderr)
	}
	if got := bob.stdout.lines(); !slices.Equal(got, []string{"alice: hi robert"}) {
		t.Errorf("bob's stdout %q", got)
	}
	bob.wantExit(t, 0)
}

// After a chat, alice's contacts list bob, with his fingerprint and the
// address she wrote to him at; renamed, history --peer finds what they
// said by his new name.
func TestContactsAfterAChat(t *testing.T) {
	aliceDir, bobDir := privateDir(t), privateDir(t)
	bob := chatAt(t, bobDir, anyPort, "bob")
	bobAddr := bob.listening(t)
	alice := chatAt(t, aliceDir, anyPort, "alice", "-p", bobAddr)
	alice.listening(t)
	alice.say(t, "hello bob")
	bob.stdout.waitLine(t, `^alice: hello bob$`)
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)
	bobFP := strings.TrimSpace(runOK(t, "id", "--data-dir", bobDir))

	out := runOK(t, "contacts", "--data-dir", aliceDir)
	want := `(?m)^bob  ` + regexp.QuoteMeta(bobFP) + `\n  last seen .*\n  ` + regexp.QuoteMeta(bobAddr) + `  `
	if !regexp.MustCompile(want).MatchString(out) {
		t.Errorf("alice's contacts:\n%s\nwant a match for %s", out, want)
	}
	runOK(t, "contacts", "--data-dir", aliceDir, "rename", bobFP, "robert")
	if got := historyTexts(t, aliceDir, "--peer", "robert"); !slices.Equal(got, []string{"hello bob"}) {
		t.Errorf("alice's history --peer robert: %q", got)
	}
}
