// Package gen holds the Go stubs generated from proto/ by buf (see buf.gen.yaml and
// scripts/gen-go.sh): gen/switchyard/plugin/v1 (the plugin protocol) and
// gen/switchyard/coordinator/v1 (the platform API). Do not edit the generated files.
package gen
