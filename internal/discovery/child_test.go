package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
)

// The namespace tests run the package in child processes, one per network
// namespace: the test binary again, told by its environment what to be.
const (
	childEnv         = "UDPCHAT_DISCOVERY_TEST_CHILD" // the child's name
	childIntervalEnv = "UDPCHAT_DISCOVERY_TEST_INTERVAL"
)

// childLine is what a child prints, one JSON object a line: first itself
// (Kind "self"), then each event.
type childLine struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Key      string `json:"key"`
	Endpoint string `json:"endpoint,omitempty"`
}

func childRole() string { return os.Getenv(childEnv) }

// childMain runs a discoverer until its stdin closes, printing what it
// hears, and exits.
func childMain(name string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child", name+":", err)
		os.Exit(1)
	}
	interval, err := time.ParseDuration(os.Getenv(childIntervalEnv))
	if err != nil {
		fail(err)
	}
	priv, err := keys.GenerateKey()
	if err != nil {
		fail(err)
	}
	d, err := Start(context.Background(), Config{Key: priv.Public(), Name: name, ChatPort: 7475, Interval: interval})
	if err != nil {
		fail(err)
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(childLine{Kind: "self", Name: name, Key: priv.Public().String()}); err != nil {
		fail(err)
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		d.Close()
	}()
	for ev := range d.Events() {
		out.Encode(childLine{Kind: ev.Kind.String(), Name: ev.Peer.Name, Key: ev.Peer.Key.String(), Endpoint: ev.Peer.Endpoint.String()})
	}
	os.Exit(0)
}
