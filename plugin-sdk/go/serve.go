package switchyard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	pluginv1 "github.com/switchyard-dev/switchyard/plugin-sdk/go/gen/switchyard/plugin/v1"
	"google.golang.org/grpc"
)

// Handshake is Switchyard's go-plugin handshake (docs/handshake.md): the host sets this
// cookie; started without it, the plugin explains itself on stderr and exits with status 1.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SWITCHYARD_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "3f6b2c1e9a8d4e7fb5c0d2a1e4f7b9c8-switchyard",
}

// Plugin is what one plugin binary serves.
type Plugin struct {
	// ID is the plugin id (lowercase letters, digits, '-'; starting with a letter).
	ID string
	// Version is the plugin's own version, for the UI.
	Version   string
	Providers []Provider
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Serve serves providers as the plugin named after the executable (`switchyard-plugin-NAME`
// gives the id NAME), with the module version from the build info. It returns only when the
// plugin stops; a plugin whose setup is broken logs why and exits with status 1.
func Serve(providers ...Provider) {
	ServePlugin(Plugin{ID: idFromExecutable(), Version: buildVersion(), Providers: providers})
}

// ServePlugin serves p (see [Serve]).
func ServePlugin(p Plugin) {
	log := newLogger(p.ID)
	if err := run(p, log); err != nil {
		log.Error("cannot serve the plugin", "error", err.Error())
		os.Exit(1)
	}
}

func run(p Plugin, log hclog.Logger) error {
	if !idPattern.MatchString(p.ID) {
		return fmt.Errorf("plugin id %q: use lowercase letters, digits and '-', starting with a letter", p.ID)
	}
	if len(p.Providers) == 0 {
		return errors.New("no providers to serve")
	}
	svc, err := newService(p, log)
	if err != nil {
		return err
	}
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopTraces := startTraces(base, log)
	defer stopTraces()
	go watchParent(log, time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{"provider": &grpcPlugin{svc: svc}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.ChainUnaryInterceptor(withBase(base, cancel, log)))
			return grpc.NewServer(opts...)
		},
		Logger: log,
	})
	return nil
}

// shutdownMethod is go-plugin's own Shutdown RPC, served by go-plugin on the same server.
const shutdownMethod = "/plugin.GRPCController/Shutdown"

// withBase cancels every call's context when Shutdown arrives (before go-plugin stops the
// server), so handlers stop waiting on receivers at once.
func withBase(base context.Context, cancel context.CancelFunc, log hclog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if info.FullMethod == shutdownMethod {
			log.Debug("Shutdown requested: cancelling calls in flight")
			cancel()
			return handler(ctx, req)
		}
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		unhook := context.AfterFunc(base, stop)
		defer unhook()
		return handler(ctx, req)
	}
}

// grpcPlugin registers the ProviderPlugin service on go-plugin's gRPC server.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	svc *service
}

func (g *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterProviderPluginServer(s, g.svc)
	return nil
}

func (g *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("the Switchyard SDK serves plugins; it is not a host")
}

// watchParent exits the plugin when its parent process changes (the coordinator died and the
// plugin was re-parented). The host's parent-death signal normally comes first; this covers a
// plugin started by something that does not set one.
func watchParent(log hclog.Logger, every time.Duration) {
	parent := os.Getppid()
	for range time.Tick(every) {
		if os.Getppid() != parent {
			log.Warn("the parent process is gone; exiting", "parent", parent)
			os.Exit(1)
		}
	}
}

var (
	loggerMu sync.Mutex
	logger   = hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true})
)

// Logger is the plugin's hclog JSON logger on stderr; the host re-emits its lines with the
// plugin's name and their level. The level comes from SWITCHYARD_LOG_LEVEL (default info).
func Logger() hclog.Logger {
	loggerMu.Lock()
	defer loggerMu.Unlock()
	return logger
}

func newLogger(name string) hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("SWITCHYARD_LOG_LEVEL"))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	// os.Stderr is taken now, before go-plugin redirects it into its stdio stream.
	l := hclog.New(&hclog.LoggerOptions{Name: name, Level: level, Output: os.Stderr, JSONFormat: true})
	loggerMu.Lock()
	logger = l
	loggerMu.Unlock()
	return l
}

func idFromExecutable() string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return strings.TrimPrefix(filepath.Base(exe), "switchyard-plugin-")
}

func buildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "0.0.0-dev"
}
