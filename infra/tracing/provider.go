package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// defaultPath is the OTLP/HTTP traces path used when the endpoint has none.
const defaultPath = "/v1/traces"

// Config selects where spans go.
type Config struct {
	// Endpoint is the OTLP/HTTP collector URL, e.g. http://localhost:4318
	// (path /v1/traces unless given); empty turns span export off.
	Endpoint string
	// SampleRatio is the fraction of traces the node starts that are
	// recorded; a command's own traceparent decides for its trace. 0
	// records none, so set it after SetDefaults.
	SampleRatio float64
}

// DefaultSampleRatio records every trace once an endpoint is set.
const DefaultSampleRatio = 1

// SetDefaults fills a zero SampleRatio; the default Endpoint is none
// (tracing off).
func (c *Config) SetDefaults() {
	if c.SampleRatio == 0 {
		c.SampleRatio = DefaultSampleRatio
	}
}

// Enabled says whether spans are exported.
func (c Config) Enabled() bool { return c.Endpoint != "" }

// Validate checks the endpoint URL and the ratio.
func (c Config) Validate() error {
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("otel sample ratio %v: want 0..1", c.SampleRatio)
	}
	if c.Endpoint == "" {
		return nil
	}
	_, err := parseEndpoint(c.Endpoint)
	return err
}

func parseEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("otel endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("otel endpoint %q: want http(s)://host:port[/path]", endpoint)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("otel endpoint %q: no user info, query or fragment", u.Redacted())
	}
	return u, nil
}

// Provider owns the exporting tracer provider, if any.
type Provider struct {
	sdk *sdktrace.TracerProvider
}

// Setup installs the global tracer provider for cfg: an SDK provider that
// batches spans to the OTLP/HTTP endpoint, or nothing (the global no-op
// provider) when cfg has no endpoint. service names the process in the
// spans' resource; export failures are logged to log at warn.
func Setup(cfg Config, service string, log *slog.Logger) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return &Provider{}, nil
	}
	u, _ := parseEndpoint(cfg.Endpoint)
	path := u.Path
	if path == "" || path == "/" {
		path = defaultPath
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithURLPath(path)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	// New does not connect: an unreachable collector costs dropped spans
	// (logged by otel's error handler), never a failed start.
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	)
	if log == nil {
		log = slog.Default()
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("otel span export", "err", err) }))
	otel.SetTracerProvider(tp)
	on.Store(true)
	return &Provider{sdk: tp}, nil
}

// Shutdown flushes the spans not yet exported and stops the exporter, within ctx.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracer provider shutdown: %w", err)
	}
	return nil
}

// Tracer returns the named tracer of the global provider; it follows a
// provider Setup installs later.
func Tracer(name string) trace.Tracer { return otel.Tracer(name) }
