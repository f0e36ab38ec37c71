package identity

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
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

func TestReadableByOthersIsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes on Windows")
	}
	dir := t.TempDir()
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("Load of a 0644 key: %v, want ErrInsecure naming the fix", err)
	}
}

func TestCorruptIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	for _, content := range []string{"", "# only a comment\n", "not base64 at all\n", "AAAA\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load of %q: %v, want ErrCorrupt naming the file", content, err)
		}
	}
}

// One changed character in identity.key made another valid key, and so a
// new identity, silently (issue 16, item 3). The fingerprint the file
// states beside the key catches it; a file without one (written by hand)
// is taken as it is.
func TestChangedKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
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
	_, err = Load(dir)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "the file was changed") {
		t.Fatalf("Load of a changed key: %v, want ErrCorrupt naming the file and saying it was changed", err)
	}
	if err := os.WriteFile(path, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err != nil {
		t.Errorf("a key file without the fingerprint comment: %v", err)
	}
}
