package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/identity"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/trust"
)

// knownPeersDir is a data dir whose known peers hold bob, at 127.0.0.1:9002,
// and returns it with bob's fingerprint.
func knownPeersDir(t *testing.T, bobName string) (dir, bobFP string) {
	t.Helper()
	dir = privateDir(t)
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	bobFP = k.Public().Fingerprint()
	line := "127.0.0.1:9002 " + strconv.Quote(bobName) + " " + bobFP + "\n"
	if err := os.WriteFile(filepath.Join(dir, trust.FileName), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, bobFP
}

// udpchat trust took anything that started with BLAKE2s:, and a name never
// seen renamed another peer's entry (issue 16, item 2).
func TestTrustChecksItsArguments(t *testing.T) {
	dir, bobFP := knownPeersDir(t, "bob")
	for _, fp := range []string{"BLAKE2s:", "BLAKE2s:ZZZZ-!!!!", "SHA256:abc", bobFP + "-AAAA"} {
		wantUsageError(t, []string{"trust", "--data-dir", dir, "bob", fp},
			`^udpchat: ".*" is not a fingerprint: .* \(the peer's udpchat id prints its fingerprint\)`)
	}
	carolFP := strings.TrimSpace(runOK(t, "id", "--data-dir", t.TempDir()))
	wantUsageError(t, []string{"trust", "--data-dir", dir, "carol", carolFP},
		`^udpchat: no peer is known as "carol" \(udpchat trust --list shows who is\); to bind it to `+
			regexp.QuoteMeta(carolFP)+` all the same, add --new`)
	wantUsageError(t, []string{"trust", "--data-dir", dir, "127.0.0.1:9009", carolFP}, `no peer is known at 127\.0\.0\.1:9009`)
	runOK(t, "trust", "--data-dir", dir, "--new", "carol", carolFP)
	list := runOK(t, "trust", "--list", "--data-dir", dir)
	for _, want := range []string{`127.0.0.1:9002  bob    ` + bobFP, `-               carol  ` + carolFP} {
		if !strings.Contains(list, want) {
			t.Errorf("trust --list:\n%s\nwant a row %q", list, want)
		}
	}
}

// trust --list printed peer-chosen names raw: escape sequences that drive
// the terminal, a bidirectional override, a newline forging a row (issue
// 16, item 9).
func TestTrustListEscapesNames(t *testing.T) {
	evil := "\x1b]0;owned\a\x1b[2Jbob\u202e\nBLAKE2s:FAKE 127.0.0.1:1 mallory"
	dir, bobFP := knownPeersDir(t, evil)
	out := runOK(t, "trust", "--list", "--data-dir", dir)
	if strings.ContainsAny(out, "\x1b\a\u202e") {
		t.Errorf("trust --list printed a control character: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[1], bobFP) ||
		!strings.Contains(lines[1], `\x1b]0;owned\x07\x1b[2Jbob\u202e\nBLAKE2s:FAKE 127.0.0.1:1 mallory`) {
		t.Errorf("trust --list:\n%s\nwant a header and one row, bob's, with his name escaped", out)
	}
}

// One changed character in identity.key was silently another identity
// (issue 16, item 3): now udpchat refuses to start, naming the file.
func TestChangedIdentityKeyIsRefused(t *testing.T) {
	dir := privateDir(t)
	runOK(t, "id", "--data-dir", dir)
	path := filepath.Join(dir, identity.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.IndexByte(string(b), '\n') + 3 // a character of the key
	b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	want := `^udpchat: identity: key file damaged: ` + regexp.QuoteMeta(path) + ` holds a key whose fingerprint is BLAKE2s:\S+, but the file says it is BLAKE2s:\S+: the file was changed\. Restore it`
	wantFailure(t, []string{"id", "--data-dir", dir}, 1, want)
	wantFailure(t, []string{"-l", anyPort, "-n", "alice", "--data-dir", dir}, 1, regexp.QuoteMeta(path)+` holds a key whose fingerprint`)
}

// A known_peers line over 64 KiB hid every line after it: trust --list
// showed nothing and exited 0, and the chat trusted an impostor in bob's
// place (issue 16, item 7). Now the file is an error naming the line.
func TestDamagedKnownPeersIsAnError(t *testing.T) {
	dir, _ := knownPeersDir(t, "bob")
	path := filepath.Join(dir, trust.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	long := "# " + strings.Repeat("x", 70<<10) + "\n"
	if err := os.WriteFile(path, append([]byte(long), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	want := regexp.QuoteMeta(path + " line 1 is longer than 64 KiB: fix or delete that line")
	wantFailure(t, []string{"trust", "--list", "--data-dir", dir}, 1, want)
	wantFailure(t, []string{"-l", anyPort, "-n", "alice", "--data-dir", dir}, 1, want)
}

// 40 udpchat trust while the chat saved 600 new peers: 12 of the trusts
// survived and 12 peers were lost (issue 16, item 8). Here the chat's
// writes come from this process, through the store the chat uses, and the
// trusts are udpchat processes of their own.
func TestConcurrentTrustLosesNothing(t *testing.T) {
	dir := privateDir(t)
	known, err := trust.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const peers, trusts = 600, 40
	fps := make([]string, trusts)
	procs := make([]*proc, trusts)
	for i := range trusts {
		fps[i] = strings.TrimSpace(runOK(t, "id", "--data-dir", privateDir(t)))
	}
	for i := range trusts {
		procs[i] = udpchat(t, "trust", "--new", "--data-dir", dir, "friend"+strconv.Itoa(i), fps[i])
	}
	for i := range peers {
		k, err := keys.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(i % 250)}), uint16(20000+i))
		if err := known.Admit(addr, k.Public(), "peer"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range procs {
		p.wantExit(t, 0)
	}
	entries, err := known.Entries()
	if err != nil {
		t.Fatal(err)
	}
	byName := make(map[string]string)
	for _, e := range entries {
		byName[e.Name] = e.Fingerprint
	}
	lost := 0
	for i := range peers {
		if _, ok := byName["peer"+strconv.Itoa(i)]; !ok {
			lost++
		}
	}
	for i, fp := range fps {
		if byName["friend"+strconv.Itoa(i)] != fp {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d updates lost (%d entries)", lost, peers+trusts, len(entries))
	}
}
