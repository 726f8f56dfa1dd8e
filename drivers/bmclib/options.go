package bmclib

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

// Provider names, as bmclib registers them. WithProviders takes these.
const (
	ProviderIPMI       = "ipmitool" // IPMI 2.0 over LAN (lanplus) through the ipmitool program
	ProviderRedfish    = "gofish"   // generic Redfish through gofish
	ProviderDell       = "dell"     // Dell iDRAC Redfish extensions
	ProviderSupermicro = "supermicro"
	ProviderOpenBMC    = "openbmc"
	ProviderASRockRack = "asrockrack"
	ProviderIntelAMT   = "IntelAMT"
)

// Defaults.
const (
	DefaultCallTimeout    = 30 * time.Second
	DefaultConfirmTimeout = 2 * time.Minute
	DefaultPollInterval   = time.Second
	DefaultMaxSessions    = 2
	DefaultCipherSuite    = "3"
)

// Option configures New.
type Option func(*config) error

type config struct {
	providers      []string
	ipmiPort       int
	cipherSuite    string
	ipmitoolPath   string
	redfishPort    int
	redfishSystem  string
	redfishBasic   bool
	callTimeout    time.Duration
	confirmTimeout time.Duration
	pollInterval   time.Duration
	httpClient     *http.Client
	rootCAs        *x509.CertPool
	insecure       bool
	logger         *slog.Logger
	maxSessions    int
	efiBoot        bool
}

func defaultConfig() config {
	return config{
		providers:      []string{ProviderIPMI, ProviderRedfish},
		ipmiPort:       623,
		cipherSuite:    DefaultCipherSuite,
		redfishPort:    443,
		callTimeout:    DefaultCallTimeout,
		confirmTimeout: DefaultConfirmTimeout,
		pollInterval:   DefaultPollInterval,
		logger:         slog.New(slog.DiscardHandler),
		maxSessions:    DefaultMaxSessions,
	}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("bmclib: %s: %w", fmt.Sprintf(format, args...), bmc.ErrInvalid)
}

// WithProviders selects the bmclib providers to use, in the order they are
// tried (default ProviderIPMI, then ProviderRedfish). Only these are
// registered: bmclib would otherwise probe every vendor API it knows.
func WithProviders(names ...string) Option {
	return func(c *config) error {
		if len(names) == 0 {
			return invalid("WithProviders: no provider")
		}
		c.providers = append([]string(nil), names...)
		return nil
	}
}

// WithIPMIPort sets the BMC's IPMI UDP port (default 623).
func WithIPMIPort(port int) Option {
	return func(c *config) error {
		if port < 1 || port > 65535 {
			return invalid("IPMI port %d out of range", port)
		}
		c.ipmiPort = port
		return nil
	}
}

// WithIPMICipherSuite sets the IPMI 2.0 cipher suite (default "3",
// RAKP-HMAC-SHA1 with AES-CBC-128, which nearly every BMC supports). ""
// lets bmclib try 3 and then 17, which costs a timeout on BMCs without 3.
func WithIPMICipherSuite(suite string) Option {
	return func(c *config) error {
		c.cipherSuite = suite
		return nil
	}
}

// WithIpmitoolPath sets the ipmitool program to run (default: ipmitool from
// PATH).
func WithIpmitoolPath(path string) Option {
	return func(c *config) error {
		c.ipmitoolPath = path
		return nil
	}
}

// WithRedfishPort sets the BMC's HTTPS port (default 443).
func WithRedfishPort(port int) Option {
	return func(c *config) error {
		if port < 1 || port > 65535 {
			return invalid("Redfish port %d out of range", port)
		}
		c.redfishPort = port
		return nil
	}
}

// WithRedfishSystem selects the ComputerSystem by Id when the BMC manages
// more than one (default: the only one).
func WithRedfishSystem(id string) Option {
	return func(c *config) error {
		c.redfishSystem = id
		return nil
	}
}

// WithRedfishBasicAuth uses HTTP basic authentication on every request
// instead of a Redfish session.
func WithRedfishBasicAuth() Option {
	return func(c *config) error {
		c.redfishBasic = true
		return nil
	}
}

// WithCallTimeout bounds each request to the BMC, including the connection
// set-up (default 30 s). Without it bmclib's Open against a dead BMC takes
// about 50 s.
func WithCallTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("call timeout %v not positive", d)
		}
		c.callTimeout = d
		return nil
	}
}

// WithConfirmTimeout bounds how long PowerOn and PowerOff poll the power
// state for confirmation when ctx has no earlier deadline (default 2 min).
// An unconfirmed change returns bmc.ErrOutcomeUnknown.
func WithConfirmTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("confirm timeout %v not positive", d)
		}
		c.confirmTimeout = d
		return nil
	}
}

// WithPollInterval sets the interval between power-state reads while
// confirming (default 1 s).
func WithPollInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("poll interval %v not positive", d)
		}
		c.pollInterval = d
		return nil
	}
}

// WithHTTPClient sets the HTTP client of the Redfish and vendor providers.
// Its Transport must be an *http.Transport (bmclib clones it), whose TLS
// settings are used as they are, or nil: then the driver's own transport
// (verifying against the system roots or WithRootCAs), never
// http.DefaultTransport. Without it the driver builds a client that
// verifies the BMC's certificate against the system roots (or
// WithRootCAs).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return invalid("nil HTTP client")
		}
		if hc.Transport != nil {
			if _, ok := hc.Transport.(*http.Transport); !ok {
				return invalid("HTTP client transport %T is not an *http.Transport", hc.Transport)
			}
		}
		c.httpClient = hc
		return nil
	}
}

// WithRootCAs verifies the BMC's TLS certificate against pool instead of
// the system roots.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(c *config) error {
		c.rootCAs = pool
		return nil
	}
}

// WithInsecureSkipVerify turns off TLS certificate verification for the
// BMC.
//
// WARNING: anyone on the management network can then impersonate the BMC,
// capture its credentials and answer "off" to a fencing request while the
// server keeps writing to its SAN disks. Use it only in a lab, or give the
// BMC a certificate and use WithRootCAs.
func WithInsecureSkipVerify() Option {
	return func(c *config) error {
		c.insecure = true
		return nil
	}
}

// WithLogger sets the logger (default: discard). bmclib's own logging is
// never connected to it: bmclib logs command lines and HTTP exchanges at
// debug levels, which may carry credentials.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return invalid("nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithMaxSessions bounds the concurrent sessions the driver opens to the
// BMC (default 2; BMCs allow only a few, often 4 to 5 in total). Further
// calls wait for a free session, within their ctx.
func WithMaxSessions(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalid("max sessions %d below 1", n)
		}
		c.maxSessions = n
		return nil
	}
}

// WithEFIBoot asks for UEFI boot when setting the boot device (default:
// legacy BIOS boot, which is how most HBA option ROMs boot from SAN).
func WithEFIBoot() Option {
	return func(c *config) error {
		c.efiBoot = true
		return nil
	}
}
