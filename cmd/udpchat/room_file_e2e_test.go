package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Three udpchats on loopback: alice founds #ops, bob and carol join, both
// taking files with --accept-files. alice's /send in the room offers the
// file to each of them; each verifies it, lands it in its downloads, and
// alice is told of each; each is shown alice's note in the room.
func TestFileToARoomOfThreeProcesses(t *testing.T) {
	alice := &roomMember{name: "alice", addr: loopback(t), dir: t.TempDir()}
	bob := &roomMember{name: "bob", addr: loopback(t), dir: t.TempDir()}
	carol := &roomMember{name: "carol", addr: loopback(t), dir: t.TempDir()}
	downloads := map[*roomMember]string{bob: t.TempDir(), carol: t.TempDir()}
	startRoomMember(t, carol, "--accept-files", "--downloads", downloads[carol])
	startRoomMember(t, bob, "-p", carol.addr, "--accept-files", "--downloads", downloads[bob])
	startRoomMember(t, alice, "--room", "ops", "-p", bob.addr, "-p", carol.addr)
	formRoom(t, "ops", []*roomMember{alice, bob, carol})

	content := make([]byte, 700<<10) // eleven blocks, the last short
	rand.Read(content)
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	alice.say(t, "/send "+path)
	for _, m := range []*roomMember{bob, carol} {
		m.stdout.waitLine(t, `"type":"file_done".*"peer_name":"alice","incoming":true,"name":"report.pdf"`)
		got, err := os.ReadFile(filepath.Join(downloads[m], "report.pdf"))
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("%s's report.pdf: %d bytes, sha256 %x (%v); want the %d sent, %x", m.name, len(got), sha256.Sum256(got), err,
				len(content), sha256.Sum256(content))
		}
		alice.stdout.waitLine(t, fmt.Sprintf(`"type":"file_done".*"peer_name":"%s","incoming":false,"name":"report.pdf"`, m.name))
		m.stdout.waitFor(t, m.name+" is shown the room's note", func() bool {
			return slices.Contains(roomMessages(t, m.stdout, "ops"), "shared the file report.pdf (700 KiB)")
		})
	}
}
