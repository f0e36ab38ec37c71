package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"

	"github.com/udpchat/udpchat/internal/identity"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/relaycluster"
	"github.com/udpchat/udpchat/internal/udp"
)

// relayOptions are udpchat relay's flags.
type relayOptions struct {
	listen     string
	metrics    string
	dataDir    string
	mailboxMax int
	mailboxAge time.Duration
	maxClients int
	verbose    bool
	// nats is --nats: the NATS servers of a relay cluster; empty runs the
	// relay alone.
	nats         string
	natsCreds    string
	natsReplicas int
}

func (o *relayOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.listen, "listen", "l", fmt.Sprintf("[::]:%d", relay.DefaultPort), "local UDP address `IP:PORT` the relay serves on")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics over HTTP at `IP:PORT` (/metrics), e.g. 127.0.0.1:9476")
	fs.StringVar(&o.dataDir, "data-dir", "", "`DIR` for the relay's key and mailboxes (default: the user config dir + /udpchat-relay)")
	fs.IntVar(&o.mailboxMax, "mailbox-max", 256, "the most sealed messages held for one offline recipient, as a `COUNT`")
	fs.DurationVar(&o.mailboxAge, "mailbox-age", 7*24*time.Hour, "how long a message waits for its recipient, as a Go `DURATION`")
	fs.IntVar(&o.maxClients, "max-clients", 65536, "the most clients registered at once, as a `COUNT`")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "log every registration and client gone (debug level)")
	fs.StringVar(&o.nats, "nats", "", "join the relay cluster of the NATS servers at `URL[,URL...]` (nats://HOST:4222): its relays share one registry and, in JetStream, one set of mailboxes")
	fs.StringVar(&o.natsCreds, "nats-creds", "", "log in to NATS with the credentials in `FILE`: a NATS .creds file, or one line USER:PASSWORD (kept out of the command line, which any local user can read)")
	fs.IntVar(&o.natsReplicas, "nats-replicas", 1, "how many NATS servers hold the registry and each mail, as a `COUNT`: 3 in a NATS cluster of three or more")
}

func relayUsage(fs *pflag.FlagSet) string {
	return `udpchat relay: run a rendezvous and relay server for udpchat users across the internet.

Clients register with it by their key over a Noise session, learn the address
it sees them at, find each other's addresses to punch through their NATs, and
send through it when that fails. It holds sealed messages for people who are
offline until they come back. It never sees a message's text: what it
forwards and stores is sealed end to end.

Usage:
  udpchat relay [--listen IP:PORT] [--metrics IP:PORT] [--data-dir DIR] [--nats URL,...]
  udpchat relay id [--data-dir DIR]   print the relay's key, which clients pin

With --nats, any number of relays share one registry and one set of
mailboxes: a client registered at one reaches a person registered at
another, and any of them delivers mail another took (docs/RELAY-CLUSTER.md).
Without it the relay runs alone, its mailboxes in its data dir.

The relay's port is ` + fmt.Sprint(relay.DefaultPort) + `/udp (the chat uses 7475, LAN discovery 7476).
It logs to stderr (JSON lines); SIGINT or SIGTERM stops it.

Flags:
` + flagUsages(fs)
}

// relayCommand is udpchat relay: the server, or relay id.
func relayCommand(ctx context.Context, args []string, io stdio) int {
	if len(args) > 0 && args[0] == "id" {
		return relayIDCommand(args[1:], io)
	}
	var o relayOptions
	fs := newFlagSet("udpchat relay")
	o.addFlags(fs)
	help, err := parseFlags(fs, args)
	if help {
		fmt.Fprint(io.out, relayUsage(fs))
		return exitOK
	}
	if err == nil && fs.NArg() > 0 {
		err = usagef("unexpected argument %q: relay takes none but id", fs.Arg(0))
	}
	if err == nil && (o.mailboxMax <= 0 || o.mailboxAge <= 0 || o.maxClients <= 0 || o.natsReplicas <= 0) {
		err = usagef("--mailbox-max, --mailbox-age, --max-clients and --nats-replicas must be more than zero")
	}
	if err != nil {
		return fail(io, "relay", err)
	}
	if err := runRelay(ctx, o, io); err != nil {
		return fail(io, "relay", err)
	}
	return exitOK
}

func runRelay(ctx context.Context, o relayOptions, io stdio) error {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(io.err, &slog.HandlerOptions{Level: level}))
	dir, err := makeRelayDataDir(o.dataDir, io)
	if err != nil {
		return err
	}
	key, err := identity.Load(dir)
	if err != nil {
		return err
	}
	cfg := relay.Config{Static: key, Logger: log, MaxClients: o.maxClients}
	var cluster *relaycluster.Cluster
	if o.nats != "" {
		nc, err := connectNATS(o.nats, o.natsCreds, log)
		if err != nil {
			return err
		}
		defer nc.Close()
		if cluster, cfg.Mailboxes, err = joinCluster(ctx, nc, o, log); err != nil {
			return err
		}
		cfg.Cluster = cluster
	} else {
		mail, err := relay.OpenMailboxes(filepath.Join(dir, relay.MailboxDBName), o.mailboxMax, o.mailboxAge)
		if err != nil {
			return err
		}
		defer mail.Close()
		cfg.Mailboxes = mail
	}
	sock, err := udp.Listen(o.listen)
	if err != nil {
		return usageError{err}
	}
	srv, err := relay.NewServer(sock, cfg)
	if err != nil {
		sock.Close()
		return err
	}
	if o.metrics != "" {
		cols := []prometheus.Collector{srv.Collector()}
		if cluster != nil {
			cols = append(cols, cluster.Collector())
		}
		stop, err := serveMetrics(o.metrics, log, cols...)
		if err != nil {
			sock.Close()
			return err
		}
		defer stop()
	}
	if cluster == nil {
		err = srv.Serve(ctx)
	} else {
		err = serveInCluster(ctx, srv, cluster)
	}
	log.Info("relay stopped", "stats", fmt.Sprintf("%+v", srv.Stats()))
	return err
}

// connectNATS connects to the NATS servers at urls (comma separated), and
// reconnects to whichever of them (or of the servers they tell of) is up,
// for as long as the relay runs.
func connectNATS(urls, creds string, log *slog.Logger) (*nats.Conn, error) {
	auth, err := natsAuth(creds)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(urls, auth,
		nats.Name("udpchat relay"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted()) }),
	)
	if err != nil { // not naming urls: they may hold a password
		return nil, fmt.Errorf("--nats: %w", err)
	}
	log.Info("nats connected", "server", nc.ConnectedUrlRedacted())
	return nc, nil
}

// natsAuth is the login --nats-creds names: a NATS credentials file (a
// user JWT and its key's seed), or a file of one line USER:PASSWORD.
func natsAuth(file string) (nats.Option, error) {
	if file == "" {
		return func(*nats.Options) error { return nil }, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usagef("--nats-creds: %v", err)
	}
	text := strings.TrimSpace(string(b))
	if strings.Contains(text, "-----BEGIN NATS USER JWT-----") {
		return nats.UserCredentials(file), nil
	}
	user, password, ok := strings.Cut(text, ":")
	if !ok || user == "" || strings.ContainsAny(text, "\n") {
		return nil, usagef("--nats-creds %s: neither a NATS .creds file nor one line USER:PASSWORD", file)
	}
	return nats.UserInfo(user, password), nil
}

// joinCluster joins the relay cluster on nc: the registry and the mailboxes
// in JetStream, with the relay's bounds.
func joinCluster(ctx context.Context, nc *nats.Conn, o relayOptions, log *slog.Logger) (*relaycluster.Cluster, relay.MailStore, error) {
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cluster, err := relaycluster.Join(jctx, relaycluster.Config{Conn: nc, TTL: 3 * relay.DefaultRefresh, Replicas: o.natsReplicas, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	mail, err := relaycluster.OpenMailboxes(jctx, relaycluster.MailConfig{Conn: nc, MaxPer: o.mailboxMax, MaxAge: o.mailboxAge, Replicas: o.natsReplicas})
	if err != nil {
		return nil, nil, err
	}
	return cluster, mail, nil
}

// serveInCluster serves srv and its membership of cluster until ctx ends or
// either fails, which stops both.
func serveInCluster(ctx context.Context, srv *relay.Server, cluster *relaycluster.Cluster) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clusterErr := make(chan error, 1)
	go func() {
		err := cluster.Run(ctx, srv)
		cancel()
		clusterErr <- err
	}()
	err := srv.Serve(ctx)
	cancel()
	return errors.Join(err, <-clusterErr)
}

// serveMetrics serves /metrics at addr, of cols and the process's, until
// stop.
func serveMetrics(addr string, log *slog.Logger, cols ...prometheus.Collector) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(cols...)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usagef("--metrics %s: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { hs.Close() }, nil
}

// relayIDCommand is udpchat relay id: the relay's key, made on first use.
func relayIDCommand(args []string, io stdio) int {
	var dataDir string
	fs := newFlagSet("udpchat relay id")
	fs.StringVar(&dataDir, "data-dir", "", "`DIR` of the relay's key (default: the user config dir + /udpchat-relay)")
	help, err := parseFlags(fs, args)
	if help {
		fmt.Fprint(io.out, `udpchat relay id: print the relay's public key and its fingerprint.

Clients pin the key: give it to them with the relay's address.

Usage:
  udpchat relay id [--data-dir DIR]

Flags:
`+flagUsages(fs))
		return exitOK
	}
	if err == nil && fs.NArg() > 0 {
		err = usagef("unexpected argument %q: relay id takes none", fs.Arg(0))
	}
	if err != nil {
		return fail(io, "relay id", err)
	}
	dir, err := makeRelayDataDir(dataDir, io)
	if err != nil {
		return fail(io, "relay id", err)
	}
	key, err := identity.Load(dir)
	if err != nil {
		return fail(io, "relay id", err)
	}
	text, _ := key.Public().MarshalText()
	fmt.Fprintf(io.out, "%s\n%s\n", text, key.Public().Fingerprint())
	return exitOK
}

// makeRelayDataDir is makeDataDir with the relay's own default, apart from
// a user's: the relay's key is not a person's.
func makeRelayDataDir(dir string, io stdio) (string, error) {
	if dir == "" {
		config, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("no place for the relay's data: %v; choose a directory with --data-dir", err)
		}
		dir = filepath.Join(config, "udpchat-relay")
	}
	return makeDataDir(dir, io.err)
}
