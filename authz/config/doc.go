// Package config is the configuration file: its model (Config and the
// *Config types), its defaults, and its validation and compilation into
// the authz.Engine that decides requests.
//
// Parse (or Load, for a file on disk) reads the YAML strictly, applies the
// documented defaults, validates every section and compiles the policies
// once. Every problem names its place in the file (policy, rule, claim,
// line), and all of them are reported together; a valid file may still
// carry warnings for the check command (Config.Warnings). The compiled
// policy is Config.Engine; Hash names the file's content in metrics and
// logs.
//
// Package authz never imports config: the binary and the tests load a file
// here and hand its Engine to an authz.Authorizer.
package config
