package deps

import (
	_ "github.com/bmc-toolbox/bmclib/v2"
	_ "github.com/bmc-toolbox/bmclib/v2/providers"
	_ "github.com/hashicorp/go-multierror"
	_ "github.com/openconfig/gnmi/proto/gnmi"
	_ "github.com/stmcginnis/gofish"
	_ "github.com/stretchr/testify/assert"
	_ "github.com/stretchr/testify/require"
	_ "go.etcd.io/bbolt"
	_ "go.etcd.io/etcd/client/v3"
	_ "go.etcd.io/etcd/client/v3/concurrency"
	_ "google.golang.org/grpc"
	_ "google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/status"
	_ "google.golang.org/grpc/test/bufconn"
)
