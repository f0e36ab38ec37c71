// Package natstest runs nats-server inside a test's process: one JetStream
// server, or a cluster of them routed to each other on loopback, each with
// its store in a temporary dir, all stopped when the test ends. Imported by
// tests only.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start runs one JetStream server on loopback; opts change its options
// first (a login, say).
func Start(t testing.TB, opts ...func(*server.Options)) *server.Server {
	t.Helper()
	o := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
	for _, f := range opts {
		f(o)
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats-server %s not ready in 10 s", o.ServerName)
	}
	return s
}

// Cluster is a NATS cluster of JetStream servers, named n0, n1, …
type Cluster struct {
	Nodes []*server.Server
}

// StartCluster runs n servers routed to each other, as the docs set a
// cluster up, and returns once each has a route to every other.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	// Each node is given every node's route, so that JetStream knows the
	// cluster's size from the start: reserve the ports first.
	routes := make([]*url.URL, n)
	ports := make([]int, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		routes[i] = &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", ports[i])}
	}
	c := &Cluster{}
	for i := range n {
		c.Nodes = append(c.Nodes, Start(t, func(o *server.Options) {
			o.ServerName = fmt.Sprintf("n%d", i)
			o.Cluster = server.ClusterOpts{Name: "udpchat-test", Host: "127.0.0.1", Port: ports[i]}
			o.Routes = routes
		}))
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range c.Nodes {
		for s.NumRoutes() < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("nats node %s has %d routes after 20 s, want %d", s.Name(), s.NumRoutes(), n-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return c
}

// URLs lists the nodes' client URLs, comma separated, node first first.
func (c *Cluster) URLs(first int) string {
	us := []string{c.Nodes[first].ClientURL()}
	for i, s := range c.Nodes {
		if i != first {
			us = append(us, s.ClientURL())
		}
	}
	return strings.Join(us, ",")
}
