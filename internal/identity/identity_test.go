package identity

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/keys"
)

func TestKeyIsMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	k1, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", info.Mode().Perm())
	}
	k2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) || k1.IsZero() {
		t.Error("a second Load gave another key")
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.Contains(string(b), k1.Public().Fingerprint()) {
		t.Error("the file does not name its fingerprint")
	}
}

func TestConcurrentFirstLoadsAgree(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	keys := make([]string, 8)
	for i := range keys {
		wg.Go(func() {
			k, err := Load(dir)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = k.Public().Fingerprint()
		})
	}
	wg.Wait()
	for _, k := range keys {
		if k != keys[0] {
			t.Fatalf("concurrent first runs made different identities: %v", keys)
		}
	}
}

// keyFiles are the two key files, each with its loader, for the tests
// that hold for both.
var keyFiles = []struct {
	name string
	load func(dir string) error
}{
	{FileName, func(dir string) error { _, err := Load(dir); return err }},
	{SigningFileName, func(dir string) error { _, err := LoadSigning(dir); return err }},
}

func TestReadableByOthersIsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes on Windows")
	}
	for _, kf := range keyFiles {
		dir := t.TempDir()
		if err := kf.load(dir); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, kf.name)
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		err := kf.load(dir)
		if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("loading a 0644 %s: %v, want ErrInsecure naming the fix", kf.name, err)
		}
	}
}

func TestCorruptIsRefused(t *testing.T) {
	for _, kf := range keyFiles {
		dir := t.TempDir()
		path := filepath.Join(dir, kf.name)
		for _, content := range []string{"", "# only a comment\n", "not base64 at all\n", "AAAA\n"} {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			err := kf.load(dir)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it aside") {
				t.Errorf("loading %s holding %q: %v, want ErrCorrupt naming the file and what to do", kf.name, content, err)
			}
		}
	}
}

// One changed character in identity.key made another valid key, and so a
// new identity, silently (issue 16, item 3). The fingerprint the file
// states beside the key catches it; a file without one (written by hand)
// is taken as it is.
func TestChangedKeyIsRefused(t *testing.T) {
	for _, kf := range keyFiles {
		t.Run(kf.name, func(t *testing.T) { testChangedKeyIsRefused(t, kf.name, kf.load) })
	}
}

func testChangedKeyIsRefused(t *testing.T, name string, load func(string) error) {
	dir := t.TempDir()
	if err := load(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	comment, keyLine, _ := strings.Cut(string(b), "\n")
	// Change one character of the key to another that still decodes.
	changed := []byte(keyLine)
	if changed[5] == 'A' {
		changed[5] = 'B'
	} else {
		changed[5] = 'A'
	}
	if err := os.WriteFile(path, []byte(comment+"\n"+string(changed)), 0o600); err != nil {
		t.Fatal(err)
	}
	err = load(dir)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "the file was changed") {
		t.Fatalf("Load of a changed key: %v, want ErrCorrupt naming the file and saying it was changed", err)
	}
	if err := os.WriteFile(path, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := load(dir); err != nil {
		t.Errorf("a key file without the fingerprint comment: %v", err)
	}
}

// The signing key is made beside the identity key on first need, also in a
// data dir that has only an identity (made before rooms), and kept: the
// same key every load, private, named by its fingerprint, and a key that
// signs what it verifies. Concurrent first loads agree on one.
func TestSigningKeyIsMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	id, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]ed25519.PrivateKey, 8)
	for i := range got {
		wg.Go(func() {
			k, err := LoadSigning(dir)
			if err != nil {
				t.Error(err)
			}
			got[i] = k
		})
	}
	wg.Wait()
	for _, k := range got {
		if !k.Equal(got[0]) {
			t.Fatal("concurrent first loads made different signing keys")
		}
	}
	again, err := LoadSigning(dir)
	if err != nil || !again.Equal(got[0]) {
		t.Fatalf("a second LoadSigning gave another key (%v)", err)
	}
	if id2, err := Load(dir); err != nil || !id2.Equal(id) {
		t.Errorf("the identity key changed beside the signing key (%v)", err)
	}
	pub := again.Public().(ed25519.PublicKey)
	if sig := ed25519.Sign(again, []byte("hello")); !ed25519.Verify(pub, []byte("hello"), sig) {
		t.Error("the signing key does not sign")
	}
	if idPub := id.Public(); bytes.Equal(pub, idPub[:]) {
		t.Error("the signing key is the identity key")
	}
	path := filepath.Join(dir, SigningFileName)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("signing key file mode %04o, want 0600", info.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), keys.PublicKey(pub).Fingerprint()) {
		t.Error("the file does not name its fingerprint")
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 2 {
		t.Errorf("the data dir holds %v (%v), want the two key files only", entries, err)
	}
}
