package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A line that is nothing but the path of a file — pasted in quotes as a
// file manager's drop pastes it, or typed with its spaces escaped — is not
// sent as text: the UI asks whether to send the file to the one peer, Enter
// sends it, Esc gives the line back, and Enter then sends it as text.
func TestTUIPastedPathOffersTheFile(t *testing.T) {
	requireTmux(t)
	tm := newTmux(t)
	alicePort, bobPort := freeUDPPort(t), freeUDPPort(t)
	downloads := t.TempDir()
	path := filepath.Join(t.TempDir(), "my photo.jpg")
	if err := os.WriteFile(path, make([]byte, 300<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := tm.start("alice", "--listen", "127.0.0.1:"+alicePort, "--peer", "127.0.0.1:"+bobPort, "--name", "alice")
	bob := tm.start("bob", "--listen", "127.0.0.1:"+bobPort, "--peer", "127.0.0.1:"+alicePort, "--name", "bob",
		"--accept-files", "--downloads", downloads)
	alice.waitScreen(`bob joined`)

	// A bracketed paste of the path in quotes, then Enter: a question.
	tm.run("set-buffer", "-b", "drop", "'"+path+"'")
	tm.run("paste-buffer", "-p", "-d", "-b", "drop", "-t", alice.name)
	alice.keys("Enter")
	alice.waitScreen(`send my photo\.jpg \(300 KiB\) to bob \(127\.0\.0\.1:\d+\)\? Enter sends the file, Esc gives the line back`)
	alice.keys("Enter")
	bob.waitScreen(`received my photo\.jpg from alice`)
	alice.waitScreen(`bob has my photo\.jpg \(300 KiB\), verified`)
	if _, err := os.Stat(filepath.Join(downloads, "my photo.jpg")); err != nil {
		t.Errorf("the file is not in bob's downloads: %v", err)
	}

	// Typed in double quotes; Esc gives the line back, and Enter sends it
	// as the text it is.
	alice.typeLine(`"` + path + `"`)
	alice.waitScreen(`send my photo\.jpg \(300 KiB\) to bob \(127\.0\.0\.1:\d+\)\?`)
	alice.keys("Escape")
	alice.waitScreen(`(?m)^> "/tmp/`) // back (and Esc not taken with the Enter as Alt+Enter)
	alice.keys("Enter")
	bob.waitScreen(`alice: "/tmp/TestTUIPastedPath`) // the text (wrapped on bob's screen)

	alice.typeLine("/quit")
	if code := alice.exitCode(); code != 0 {
		t.Errorf("alice exited %d after /quit, want 0; stderr:\n%s", code, alice.stderr())
	}
}
