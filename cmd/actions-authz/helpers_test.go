package main

import (
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/service"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
)

// What the command's tests share with the service package's, by the names
// these tests have always used.

// ownerPolicy is the audience and policy most tests serve (see
// servicetest.OwnerPolicy).
const ownerPolicy = servicetest.OwnerPolicy

// grpcKeepaliveMinTime is the shortest ping interval the gRPC server
// tolerates, which the Envoy examples must respect.
const grpcKeepaliveMinTime = service.GRPCKeepaliveMinTime

// syncBuffer is a log buffer the test reads while it is written.
type syncBuffer = servicetest.SyncBuffer

var (
	followLog   = servicetest.FollowLog
	ownerConfig = servicetest.OwnerConfig
	writeFile   = servicetest.WriteFile
)
