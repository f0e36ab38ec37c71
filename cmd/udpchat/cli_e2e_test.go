package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/trust"
)

// When the known peers cannot be read, a peer's key is refused, and the
// user is told why in one line: the reason is not glued on with a newline
// that prints as a literal \n.
func TestUncheckableKeyRefusalIsOneReadableLine(t *testing.T) {
	bobDir := t.TempDir()
	bob := udpchat(t, "-l", anyPort, "-n", "bob", "--data-dir", bobDir)
	bobAddr := bob.listening(t)
	if err := os.WriteFile(filepath.Join(bobDir, trust.FileName), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := udpchat(t, "-l", anyPort, "-n", "alice", "-p", bobAddr, "--timeout", "1s")
	alice.say(t, "hello")
	line := bob.stderr.waitLine(t, `^udpchat: refusing a peer's key because the known peers cannot be checked.*`)[0]
	if strings.Contains(line, `\n`) || !strings.Contains(line, "line 1") {
		t.Errorf("the refusal reads %q; want one line that names the bad line", line)
	}
	alice.wantExit(t, 1)
}
