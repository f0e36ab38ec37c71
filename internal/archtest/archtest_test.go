package archtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the import path every package of ours starts with.
const module = "github.com/udpchat/udpchat/"

// allowed says, for each package of the module, which of the module's
// packages its non-test code may import. A package missing here fails the
// test: a new package says where it stands in the house when it is added.
// The layers are DESIGN.md's: each knows only the ones below it; the UIs see
// only chat; nothing below chat knows names, text or terminals; wire does no
// I/O and imports nothing of ours; cmd/udpchat wires everything together.
var allowed = map[string][]string{
	"cmd/udpchat": {"*"},

	"internal/ui/tui":      {"internal/chat", "internal/ui/command", "internal/ui/termsafe"},
	"internal/ui/line":     {"internal/chat", "internal/ui/command", "internal/ui/termsafe"},
	"internal/ui/command":  {"internal/chat", "internal/ui/termsafe"},
	"internal/ui/termsafe": {},

	"internal/chat":  {"internal/files", "internal/files/transfer", "internal/link", "internal/store", "internal/wire"},
	"internal/files": {"internal/safefile", "internal/wire"},
	// The transfer engine: files between people, driven by the chat.
	"internal/files/transfer": {"internal/files", "internal/wire"},
	// The rooms core: no I/O; roomchat drives it.
	"internal/rooms": {"internal/keys", "internal/wire"},
	// Rooms over the chat: a capability of its own beside the chat, not
	// branches in it. It carries the core's datagrams as room payloads
	// over the chat's sessions and keeps the rooms' labels; the chat knows
	// it only as a RoomCarrier, the UIs only as chat.Rooms.
	"internal/chat/roomchat": {"internal/chat", "internal/files", "internal/files/transfer", "internal/keys", "internal/rooms", "internal/safefile", "internal/wire"},
	"internal/identity":      {"internal/keys", "internal/safefile"},
	"internal/trust":         {"internal/keys", "internal/safefile"},
	"internal/chat/chattest": {"internal/chat", "internal/keys", "internal/link", "internal/link/linktest", "internal/plain", "internal/secure", "internal/store", "internal/transport", "internal/udp", "internal/udp/udptest"},

	// The rooms core's Storage on the database: it knows both, so that
	// neither knows the other (store is below rooms; rooms does no I/O).
	"internal/rooms/roomstore": {"internal/rooms", "internal/store"},
	// Imported by tests only: the behaviour every rooms.Storage must have.
	"internal/rooms/storagetest": {"internal/keys", "internal/rooms"},

	"internal/link":                    {},
	"internal/link/linktest":           {"internal/link"},
	"internal/discovery":               {"internal/keys", "internal/secure/ratelimit", "internal/wire"},
	"internal/plain":                   {"internal/link", "internal/udp"},
	"internal/transport":               {"internal/link", "internal/udp", "internal/wire"},
	"internal/transport/transporttest": {},
	"internal/secure":                  {"internal/keys", "internal/secure/ratelimit", "internal/secure/replay", "internal/udp", "internal/wire"},
	"internal/secure/ratelimit":        {},
	"internal/secure/securetest":       {"internal/keys", "internal/testenv", "internal/udp", "internal/udp/udptest", "internal/wire"},
	"internal/secure/replay":           {},
	// The relay server and the client side of its protocol: the server
	// is a node of its own (cmd/udpchat wires it).
	"internal/relay": {"internal/keys", "internal/secure", "internal/udp", "internal/wire"},
	// The chat's path across the internet: the relay client on the chat's
	// socket, relayed handles, punching and failover. Below chat: it knows
	// keys and addresses, never messages.
	"internal/relay/relaypath": {"internal/keys", "internal/relay", "internal/secure", "internal/udp", "internal/wire"},
	// Imported by tests only: many room members at relays, simulated.
	"internal/relay/relaytest": {"internal/keys", "internal/relay", "internal/secure", "internal/udp"},
	// Offline mailboxes: the chat's messages sealed into a relay's
	// mailboxes and back. It drives the chat (ToHold, ReceiveMail), and
	// knows the relay path only as its small Relay interface.
	"internal/relay/mailclient": {"internal/chat", "internal/keys", "internal/relay", "internal/wire"},
	// Relays in a cluster over NATS: the shared registry, the messages
	// between relays and the mailboxes in JetStream, behind the relay's
	// Cluster and MailStore; cmd/udpchat wires it in with --nats.
	"internal/relaycluster": {"internal/keys", "internal/relay", "internal/wire"},
	// Imported by tests only: nats-server in the test's process.
	"internal/relaycluster/natstest": {},

	"internal/keys":        {},
	"internal/store":       {"internal/safefile"},
	"internal/safefile":    {},
	"internal/udp":         {},
	"internal/udp/udptest": {"internal/udp"},
	"internal/wire":        {},

	"internal/archtest": {},
	// Tests of several layers together; no code of its own.
	"internal/integration": {},
	// Imported by tests only: what they need of the machine.
	"internal/testenv": {},
}

// debt lists the imports that break the rules today and are to go, each
// with what removes it. The test fails if one of them is gone, so that the
// list only ever shrinks and says what is still to do. It is empty: a rule
// broken again comes back here only with the issue that removes it.
var debt = map[edge]string{}

type edge struct{ from, to string }

func TestImportsFollowTheLayers(t *testing.T) {
	seen := make(map[edge]bool)
	for pkg, imports := range modulePackages(t) {
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("%s is not in archtest's table: add it to allowed, with the packages it may import", pkg)
			continue
		}
		for _, imp := range imports {
			e := edge{pkg, imp}
			seen[e] = true
			if slices.Contains(rules, "*") || slices.Contains(rules, imp) {
				continue
			}
			if why, ok := debt[e]; ok {
				t.Logf("known debt: %s imports %s (%s)", pkg, imp, why)
				continue
			}
			t.Errorf("%s imports %s, which the layering forbids (see allowed in archtest_test.go and README's How it works)", pkg, imp)
		}
	}
	for e, why := range debt {
		if !seen[e] {
			t.Errorf("%s no longer imports %s (%s): delete it from debt", e.from, e.to, why)
		}
	}
}

// modulePackages maps each package of the module (by its path inside the
// module) to the module packages its non-test files import.
func modulePackages(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := make(map[string][]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			t.Fatalf("go list named %q, outside the module", fields[0])
		}
		var imports []string
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, module); ok {
				imports = append(imports, rel)
			}
		}
		pkgs[pkg] = imports
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages: %s", len(pkgs), fmt.Sprint(pkgs))
	}
	return pkgs
}
