// Package hosttest starts a plugin binary the way the Switchyard host does (its own
// environment with the handshake variables, stdin closed, stdout and stderr piped), reads its
// handshake line and dials its socket, for the SDK's tests. Every process it starts is killed
// and reaped, and its socket directory removed, when the test ends.
package hosttest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pluginv1 "github.com/switchyard-dev/switchyard/plugin-sdk/go/gen/switchyard/plugin/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Cookie is the handshake variable the host sets.
const Cookie = "SWITCHYARD_PLUGIN_MAGIC_COOKIE=3f6b2c1e9a8d4e7fb5c0d2a1e4f7b9c8-switchyard"

// Build compiles the main package `pkg` (a path relative to the test's directory) into `dir`
// and returns the binary's path, named `name`.
func Build(dir, pkg, name string) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out, nil
}

// Plugin is a started plugin process.
type Plugin struct {
	Cmd    *exec.Cmd
	Line   string
	Socket string
	Conn   *grpc.ClientConn
	Client pluginv1.ProviderPluginClient
	stderr *Buffer
	done   chan struct{}
	err    error
}

// Buffer is a goroutine-safe output capture.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is what was captured so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Command is the plugin's command with the host's environment: only the handshake variables
// (versions "1", a fresh socket directory) and `env`.
func Command(t testing.TB, bin string, env ...string) (*exec.Cmd, string) {
	dir, err := os.MkdirTemp("", "sygo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cmd := exec.Command(bin)
	cmd.Env = append([]string{Cookie, "PLUGIN_PROTOCOL_VERSIONS=1", "PLUGIN_UNIX_SOCKET_DIR=" + dir}, env...)
	return cmd, dir
}

// Start starts bin with the host's environment plus env, and connects to it.
func Start(t testing.TB, bin string, env ...string) *Plugin {
	t.Helper()
	cmd, _ := Command(t, bin, env...)
	return StartCmd(t, cmd)
}

// StartCmd starts a prepared command (see [Command]) and connects to it.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Plugin {
	t.Helper()
	p := &Plugin{Cmd: cmd, stderr: &Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	lines := bufio.NewReader(stdout)
	line, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("no handshake line: %v; stderr: %s", err, p.stderr.String())
	}
	go io.Copy(io.Discard, lines) // stdout after the line is not protocol
	p.Line = strings.TrimSpace(line)
	fields := strings.Split(p.Line, "|")
	if len(fields) < 5 {
		t.Fatalf("malformed handshake line %q", p.Line)
	}
	p.Socket = fields[3]
	p.Conn, err = grpc.NewClient("passthrough:///localhost",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", p.Socket)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Conn.Close() })
	p.Client = pluginv1.NewProviderPluginClient(p.Conn)
	return p
}

// Stderr is what the plugin wrote to stderr so far.
func (p *Plugin) Stderr() string { return p.stderr.String() }

// Shutdown calls go-plugin's plugin.GRPCController/Shutdown (its Empty is wire-identical to
// google.protobuf.Empty).
func (p *Plugin) Shutdown(ctx context.Context) error {
	return p.Conn.Invoke(ctx, "/plugin.GRPCController/Shutdown", &emptypb.Empty{}, &emptypb.Empty{})
}

// Wait waits up to `limit` for the process to exit; its error from exec.Cmd.Wait.
func (p *Plugin) Wait(limit time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(limit):
		return nil, false
	}
}

func (p *Plugin) kill() {
	select {
	case <-p.done:
	default:
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Ctx is a context for one call, bounded so a wedged plugin fails the test instead of hanging it.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Must returns v, or panics with err (which fails the test that called it).
func Must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("call failed: %v", err))
	}
	return v
}
