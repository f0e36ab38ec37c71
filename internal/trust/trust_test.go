package trust

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/secure"
)

func key(t *testing.T) secure.PublicKey {
	t.Helper()
	k, err := secure.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

var (
	bobAddr = netip.MustParseAddrPort("127.0.0.1:9002")
	newAddr = netip.MustParseAddrPort("127.0.0.1:9003")
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFirstKeyIsTrustedAndRemembered(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	bob := key(t)
	if _, ok := s.Known(bobAddr); ok {
		t.Fatal("a key is known before any contact")
	}
	if err := s.Verify(bobAddr, bob); err != nil {
		t.Fatalf("first contact refused: %v", err)
	}
	// A new process reads the same file.
	s2 := open(t, dir)
	if k, ok := s2.Known(bobAddr); !ok || k != bob {
		t.Fatal("the first key was not remembered at its address")
	}
	if err := s2.Verify(bobAddr, bob); err != nil {
		t.Fatalf("the known key refused: %v", err)
	}
	if err := s2.Verify(newAddr, bob); err != nil {
		t.Fatalf("the known key from a new address refused: %v", err)
	}
	if k, ok := s2.Known(newAddr); !ok || k != bob {
		t.Error("the key's new address was not remembered")
	}
}

func TestChangedKeyIsRefusedUntilTrusted(t *testing.T) {
	s := open(t, t.TempDir())
	bob, impostor := key(t), key(t)
	if err := s.Verify(bobAddr, bob); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckName(bob, "bob"); err != nil {
		t.Fatal(err)
	}
	err := s.Verify(bobAddr, impostor)
	var changed *KeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("another key at bob's address: %v, want a KeyChangedError", err)
	}
	msg := err.Error()
	for _, want := range []string{"WARNING", bob.Fingerprint(), impostor.Fingerprint(), "udpchat trust 127.0.0.1:9002 " + impostor.Fingerprint(), "(bob)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("warning %q does not say %q", msg, want)
		}
	}
	if err := s.Verify(bobAddr, impostor); err == nil {
		t.Fatal("refused once, accepted the second time")
	}
	if err := s.Trust("127.0.0.1:9002", impostor.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(bobAddr, impostor); err != nil {
		t.Fatalf("after udpchat trust the new key is still refused: %v", err)
	}
	if k, ok := s.Known(bobAddr); !ok || k != impostor {
		t.Error("after trust and contact, the new key is not the one known at the address")
	}
	if err := s.CheckName(impostor, "bob"); err != nil {
		t.Errorf("the name known at the address did not move to the trusted key: %v", err)
	}
	if err := s.CheckName(bob, "bob"); err == nil {
		t.Error("the old key still goes by the name")
	}
}

func TestNameIsBoundToItsKey(t *testing.T) {
	s := open(t, t.TempDir())
	bob, impostor := key(t), key(t)
	if err := s.Verify(bobAddr, bob); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckName(bob, "bob"); err != nil {
		t.Fatal(err)
	}
	// The impostor comes from a new address (accepted: a new peer), but
	// claims bob's name.
	if err := s.Verify(newAddr, impostor); err != nil {
		t.Fatal(err)
	}
	var changed *KeyChangedError
	if err := s.CheckName(impostor, "bob"); !errors.As(err, &changed) {
		t.Fatalf("another key claiming the name bob: %v, want a KeyChangedError", err)
	}
	if err := s.CheckName(impostor, "mallory"); err != nil {
		t.Errorf("a fresh name refused: %v", err)
	}
	if err := s.CheckName(bob, "robert"); err != nil {
		t.Errorf("bob renaming himself refused: %v", err)
	}
	if err := s.Trust("bob", impostor.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckName(impostor, "bob"); err != nil {
		t.Errorf("after udpchat trust bob ..., the name is still refused: %v", err)
	}
}

func TestBadFileNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte(header+"127.0.0.1:1 \"x\" nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), path+" line 3") {
		t.Fatalf("Open of a damaged file: %v, want an error naming the file and line", err)
	}
}

func TestTrustRefusesWhatIsNotAFingerprint(t *testing.T) {
	s := open(t, t.TempDir())
	if err := s.Trust("bob", "abc"); err == nil {
		t.Fatal("accepted a non-fingerprint")
	}
}

func TestNamesWithSpacesAndQuotesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	k := key(t)
	name := `ann "the" o'neil`
	if err := s.Verify(bobAddr, k); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckName(k, name); err != nil {
		t.Fatal(err)
	}
	entries, err := open(t, dir).Entries()
	if err != nil || len(entries) != 1 || entries[0].Name != name || entries[0].Key != k {
		t.Fatalf("entries %+v, %v", entries, err)
	}
}
