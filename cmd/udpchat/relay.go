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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"

	"github.com/udpchat/udpchat/internal/identity"
	"github.com/udpchat/udpchat/internal/relay"
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
}

func (o *relayOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.listen, "listen", "l", fmt.Sprintf("[::]:%d", relay.DefaultPort), "local UDP address `IP:PORT` the relay serves on")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics over HTTP at `IP:PORT` (/metrics), e.g. 127.0.0.1:9476")
	fs.StringVar(&o.dataDir, "data-dir", "", "`DIR` for the relay's key and mailboxes (default: the user config dir + /udpchat-relay)")
	fs.IntVar(&o.mailboxMax, "mailbox-max", 256, "the most sealed messages held for one offline recipient, as a `COUNT`")
	fs.DurationVar(&o.mailboxAge, "mailbox-age", 7*24*time.Hour, "how long a message waits for its recipient, as a Go `DURATION`")
	fs.IntVar(&o.maxClients, "max-clients", 65536, "the most clients registered at once, as a `COUNT`")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "log every registration and client gone (debug level)")
}

func relayUsage(fs *pflag.FlagSet) string {
	return `udpchat relay: run a rendezvous and relay server for udpchat users across the internet.

Clients register with it by their key over a Noise session, learn the address
it sees them at, find each other's addresses to punch through their NATs, and
send through it when that fails. It holds sealed messages for people who are
offline until they come back. It never sees a message's text: what it
forwards and stores is sealed end to end.

Usage:
  udpchat relay [--listen IP:PORT] [--metrics IP:PORT] [--data-dir DIR]
  udpchat relay id [--data-dir DIR]   print the relay's key, which clients pin

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
	if err == nil && (o.mailboxMax <= 0 || o.mailboxAge <= 0 || o.maxClients <= 0) {
		err = usagef("--mailbox-max, --mailbox-age and --max-clients must be more than zero")
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
	mail, err := relay.OpenMailboxes(filepath.Join(dir, relay.MailboxDBName), o.mailboxMax, o.mailboxAge)
	if err != nil {
		return err
	}
	defer mail.Close()
	sock, err := udp.Listen(o.listen)
	if err != nil {
		return usageError{err}
	}
	srv, err := relay.NewServer(sock, relay.Config{Static: key, Mailboxes: mail, Logger: log, MaxClients: o.maxClients})
	if err != nil {
		sock.Close()
		return err
	}
	if o.metrics != "" {
		stop, err := serveMetrics(o.metrics, srv, log)
		if err != nil {
			sock.Close()
			return err
		}
		defer stop()
	}
	err = srv.Serve(ctx)
	log.Info("relay stopped", "stats", fmt.Sprintf("%+v", srv.Stats()))
	return err
}

// serveMetrics serves /metrics at addr until stop.
func serveMetrics(addr string, srv *relay.Server, log *slog.Logger) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(srv.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
