// Package testenv is what udpchat's tests ask of the machine they run on:
// root, tools on PATH, a quick run or a complete one. A plain go test skips
// what the machine cannot give and says why; .ci/run sets
// UDPCHAT_REQUIRE_ALL=1, which turns every such skip into a failure, so CI
// never passes by skipping.
package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireAllVar is the environment variable that makes every requirement
// here mandatory (set to 1 by .ci/run).
const RequireAllVar = "UDPCHAT_REQUIRE_ALL"

// Unavailable ends the test because the machine lacks what it needs (why):
// a skip on a plain go test, a failure when RequireAllVar is 1.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(RequireAllVar) == "1" {
		t.Fatal(why + " (required: " + RequireAllVar + "=1)")
	}
	t.Skip(why + " (" + RequireAllVar + "=1 makes this a failure)")
}

// RequireTool ends the test (see Unavailable) unless name is on PATH.
func RequireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		Unavailable(t, name+" is not installed: "+err.Error())
	}
}

// RequireRoot ends the test (see Unavailable) unless it runs as root with
// tools on PATH; what names what needs them ("network namespaces").
func RequireRoot(t testing.TB, what string, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" on PATH")
		}
	}
	if len(missing) > 0 {
		Unavailable(t, what+" need "+strings.Join(missing, " and "))
	}
}

// SkipInShort skips one of the slow suites (crash, flood, network
// namespaces, tmux) under go test -short, the quick inner loop; go test
// ./... and .ci/run run them all.
func SkipInShort(t testing.TB, suite string) {
	t.Helper()
	if testing.Short() {
		t.Skip(suite + " suite: skipped by -short")
	}
}
