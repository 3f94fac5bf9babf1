// Command plain-v18 is a Switchyard plugin served by plain hashicorp/go-plugin v1.8.0, without the
// Switchyard SDK: the handshake constants from docs/handshake.md, the generated stubs, and
// go-plugin's own Serve. The host must run it unmodified (tests/e2e/tests/it/go_plugins.rs).
package main

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"github.com/switchyard-dev/switchyard/tests/go-plugins/relay"
	"google.golang.org/grpc"
)

// grpcPlugin hands go-plugin's gRPC server to the relay provider.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	relay.Register(s, "go-plain-v18", "1.8.0")
	return nil
}

func (grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (interface{}, error) {
	return nil, errors.New("this binary is a plugin, not a host")
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "SWITCHYARD_PLUGIN_MAGIC_COOKIE",
			MagicCookieValue: "3f6b2c1e9a8d4e7fb5c0d2a1e4f7b9c8-switchyard",
		},
		Plugins:    plugin.PluginSet{"provider": grpcPlugin{}},
		GRPCServer: plugin.DefaultGRPCServer,
	})
}
