package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// history lists the files sent and received, on both sides: one taken
// (done, where it landed) and one declined (why), by name, size, peer and
// state, as lines and as JSON. (send --file keeps no history, as send
// keeps none: the files go from a chat.)
func TestHistoryListsTransfers(t *testing.T) {
	downloads, bobDir, aliceDir := t.TempDir(), t.TempDir(), t.TempDir()
	bob := receiver(t, anyPort, bobDir, downloads, "--accept-files", "--max-file-size", "2MiB")
	bobAddr := bob.listening(t)
	src := t.TempDir()
	small, _ := fileOf(t, src, "report.pdf", 1<<20+5)
	big, _ := fileOf(t, src, "big.iso", 3<<20)
	alice := udpchat(t, "-l", anyPort, "-n", "alice", "--no-discovery", "--data-dir", aliceDir, "-p", bobAddr)
	alice.stderr.waitLine(t, `^\* bob joined`)
	alice.say(t, "/send "+small)
	jsonLine(t, bob.stdout, "file_done")
	alice.say(t, "/send "+big)
	jsonLine(t, bob.stdout, "file_failed")
	alice.stderr.waitLine(t, `big\.iso: declined`)
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)

	landed := filepath.Join(downloads, "report.pdf")
	wantLines := func(dir string, want ...string) {
		t.Helper()
		lines := history(t, "--data-dir", dir)
		if len(lines) != len(want) {
			t.Fatalf("history of %s: %d lines, want %d:\n%s", dir, len(lines), len(want), strings.Join(lines, "\n"))
		}
		for i, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("history line %d %q, want it to have %q", i, lines[i], w)
			}
		}
	}
	wantLines(aliceDir, "-> "+bobAddr+"  [file done ", "[file declined ")
	wantLines(aliceDir, "]  report.pdf (1.0 MiB) to bob", "]  big.iso (3.0 MiB) to bob: ")
	wantLines(bobDir, "]  report.pdf (1.0 MiB) from alice: "+landed, "]  big.iso (3.0 MiB) from alice: ")
	wantLines(bobDir, "<- 127.0.0.1:", "[file declined ")

	var got []map[string]any
	for _, l := range history(t, "--data-dir", aliceDir, "--json") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("history --json line %q: %v", l, err)
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0]["type"] != "file" || got[0]["file"] != "report.pdf" || got[0]["size"] != float64(1<<20+5) ||
		got[0]["direction"] != "out" || got[0]["state"] != "done" || got[0]["peer_name"] != "bob" {
		t.Errorf("alice's history --json: %v", got)
	}
	if len(got) == 2 && (got[1]["state"] != "declined" || !strings.Contains(got[1]["error"].(string), "size limit")) {
		t.Errorf("alice's history --json of the declined file: %v", got[1])
	}
	if got := history(t, "--data-dir", aliceDir, "--search", "big"); len(got) != 1 || !strings.Contains(got[0], "big.iso") {
		t.Errorf("history --search big: %q, want the one file named so", got)
	}
}
