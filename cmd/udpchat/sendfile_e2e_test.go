package main

import (
	"crypto/sha256"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fileOf writes size random bytes to dir/name and returns its path and hash.
func fileOf(t *testing.T, dir, name string, size int) (string, [32]byte) {
	t.Helper()
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(size), 1}).Read(data)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, sha256.Sum256(data)
}

func wantSameFile(t *testing.T, path string, sum [32]byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sum {
		t.Fatalf("%s is not the file sent", path)
	}
}

// receiver starts a chat that takes files into downloads, printing JSON
// events, with its own data dir (so that a restart is the same person).
func receiver(t *testing.T, listen, dataDir, downloads string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"-l", listen, "-n", "bob", "--json", "--no-discovery", "--data-dir", dataDir,
		"--downloads", downloads}, extra...)
	return udpchat(t, args...)
}

func TestSendFileToAJSONReceiver(t *testing.T) {
	downloads := t.TempDir()
	bob := receiver(t, anyPort, t.TempDir(), downloads, "--accept-files")
	bobAddr := bob.listening(t)
	path, sum := fileOf(t, t.TempDir(), "report.pdf", 3<<20+17)
	send := udpchat(t, "send", "-p", bobAddr, "-n", "alice", "--file", path)
	if code := send.exit(t); code != 0 {
		t.Fatalf("send --file exited %d; stderr:\n%s", code, send.stderr)
	}
	offer := jsonLine(t, bob.stdout, "file_offer")
	if offer["name"] != "report.pdf" || offer["size"] != float64(3<<20+17) || offer["peer_name"] != "alice" {
		t.Errorf("file_offer %v", offer)
	}
	jsonLine(t, bob.stdout, "file_progress")
	done := jsonLine(t, bob.stdout, "file_done")
	if done["path"] != filepath.Join(downloads, "report.pdf") || done["id"] != offer["id"] {
		t.Errorf("file_done %v, want it in %s", done, downloads)
	}
	wantSameFile(t, filepath.Join(downloads, "report.pdf"), sum)
	bob.wantExit(t, 0)
}

// A name that tries to climb out of the downloads dir lands inside it.
func TestSendFileTraversalNameLandsInDownloads(t *testing.T) {
	downloads := t.TempDir()
	bob := receiver(t, anyPort, t.TempDir(), downloads, "--accept-files")
	bobAddr := bob.listening(t)
	path, sum := fileOf(t, t.TempDir(), `..\..\.bashrc`, 1000)
	send := udpchat(t, "send", "-p", bobAddr, "--file", path)
	if code := send.exit(t); code != 0 {
		t.Fatalf("send --file exited %d; stderr:\n%s", code, send.stderr)
	}
	done := jsonLine(t, bob.stdout, "file_done")
	if want := filepath.Join(downloads, "bashrc"); done["path"] != want {
		t.Fatalf("a file offered as %q landed at %v, want %s", filepath.Base(path), done["path"], want)
	}
	wantSameFile(t, filepath.Join(downloads, "bashrc"), sum)
}

// An offer the receiver declines (here: over its size limit) makes send
// fail, saying so.
func TestSendFileDeclinedFails(t *testing.T) {
	bob := receiver(t, anyPort, t.TempDir(), t.TempDir(), "--accept-files", "--max-file-size", "1MiB")
	bobAddr := bob.listening(t)
	path, _ := fileOf(t, t.TempDir(), "big.iso", 2<<20)
	send := udpchat(t, "send", "-p", bobAddr, "-n", "alice", "--file", path)
	if code := send.exit(t); code != 1 {
		t.Fatalf("send --file of a declined file exited %d, want 1", code)
	}
	if got := send.stderr.String(); !strings.Contains(got, "declined big.iso") || !strings.Contains(got, "size limit") {
		t.Errorf("stderr %q, want it to say the file was declined as too big", got)
	}
	jsonLine(t, bob.stdout, "file_failed")
}

// A receiver killed mid-way (SIGKILL) and started again takes the transfer
// up from what it had saved: the sender, still waiting, offers it again,
// and only the missing blocks move.
func TestSendFileResumesAfterReceiverKilled(t *testing.T) {
	downloads, dataDir := t.TempDir(), t.TempDir()
	listen := "127.0.0.1:" + freeUDPPort(t)
	bob := receiver(t, listen, dataDir, downloads, "--accept-files")
	bob.listening(t)
	path, sum := fileOf(t, t.TempDir(), "video.mkv", resumeFileSize)
	send := udpchat(t, "send", "-p", listen, "--timeout", "60s", "--file", path)
	killPastAThird(t, bob, bob)
	bob = receiver(t, listen, dataDir, downloads, "--accept-files")
	if offer := jsonLine(t, bob.stdout, "file_offer"); offer["resumed"] != true {
		t.Errorf("the offer after the restart is not a resume: %v", offer)
	}
	wantOnlyMissing(t, bob)
	if code := send.exit(t); code != 0 {
		t.Fatalf("send --file exited %d; stderr:\n%s", code, send.stderr)
	}
	wantSameFile(t, filepath.Join(downloads, "video.mkv"), sum)
}

// A send killed mid-way (SIGKILL) and run again with the same file (from
// another port, as send takes a free one) is the same transfer: the
// receiver, still running, fetches only what it lacks.
func TestSendFileResumesAfterSenderKilled(t *testing.T) {
	downloads := t.TempDir()
	bob := receiver(t, anyPort, t.TempDir(), downloads, "--accept-files")
	bobAddr := bob.listening(t)
	path, sum := fileOf(t, t.TempDir(), "backup.tar", resumeFileSize)
	alice := t.TempDir() // the same person both times
	send := udpchat(t, "send", "-p", bobAddr, "-n", "alice", "--data-dir", alice, "--file", path)
	killPastAThird(t, bob, send)
	send = udpchat(t, "send", "-p", bobAddr, "-n", "alice", "--data-dir", alice, "--file", path)
	if code := send.exit(t); code != 0 {
		t.Fatalf("send --file run again exited %d; stderr:\n%s", code, send.stderr)
	}
	// One transfer, taken up again: no second offer to accept, and no
	// block written twice.
	done := jsonLine(t, bob.stdout, "file_done")
	offers := 0
	for _, l := range bob.stdout.lines() {
		if strings.Contains(l, `"file_offer"`) {
			offers++
		}
	}
	if offers != 1 || done["id"] != jsonLine(t, bob.stdout, "file_offer")["id"] || done["blocks"] != float64(resumeFileSize>>16) {
		t.Errorf("%d offers, then %v: want the first transfer done, each block written once", offers, done)
	}
	wantSameFile(t, filepath.Join(downloads, "backup.tar"), sum)
}

// resumeFileSize is large enough that a transfer on loopback is still under
// way when the test, reading the receiver's progress, kills one side.
const resumeFileSize = 48 << 20

// killPastAThird kills victim (SIGKILL) once the receiver is past a third
// of resumeFileSize, by its file_progress events; victim may be the
// receiver itself. It fails if the transfer was done before.
func killPastAThird(t *testing.T, receiver, victim *proc) {
	t.Helper()
	receiver.stdout.waitFor(t, "progress past a third", func() bool {
		for _, l := range receiver.stdout.lines() {
			if strings.Contains(l, `"file_done"`) {
				t.Fatal("the transfer was done before it could be cut")
			}
			if strings.Contains(l, `"file_progress"`) && progressPast(l, resumeFileSize/3) {
				return true
			}
		}
		return false
	})
	victim.cmd.Process.Signal(syscall.SIGKILL)
	victim.exit(t)
}

// wantOnlyMissing checks the receiver's file_done: some blocks were there
// from before, and only the others were fetched.
func wantOnlyMissing(t *testing.T, receiver *proc) {
	t.Helper()
	const blocks = resumeFileSize >> 16
	done := jsonLine(t, receiver.stdout, "file_done")
	fetched, resumed := done["blocks"].(float64), done["resumed_blocks"].(float64)
	if resumed == 0 || fetched+resumed != blocks {
		t.Errorf("after the restart %v blocks were there and %v fetched; want some there, and together %d", resumed, fetched, blocks)
	}
	t.Logf("after the restart: %v of %d blocks there, %v fetched", resumed, blocks, fetched)
}

// progressPast reports whether a file_progress line says more than n bytes.
func progressPast(line string, n int) bool {
	var ev struct {
		Bytes int `json:"bytes"`
	}
	return json.Unmarshal([]byte(line), &ev) == nil && ev.Bytes > n
}

// /decline in line mode refuses an offer; send says who declined.
func TestSendFileDeclinedByThePerson(t *testing.T) {
	bob := receiver(t, anyPort, t.TempDir(), t.TempDir())
	bobAddr := bob.listening(t)
	path, _ := fileOf(t, t.TempDir(), "notes.txt", 5000)
	send := udpchat(t, "send", "-p", bobAddr, "-n", "alice", "--file", path)
	jsonLine(t, bob.stdout, "file_offer")
	bob.say(t, "/decline")
	if code := send.exit(t); code != 1 {
		t.Fatalf("send --file of a declined file exited %d, want 1", code)
	}
	if got := send.stderr.String(); !strings.Contains(got, "bob declined notes.txt: declined: by the person") {
		t.Errorf("stderr %q, want it to say bob declined the file", got)
	}
}
