// Package promrules checks what the coordinator publishes for Prometheus,
// Loki and Grafana with their own parsers where they exist: Prometheus's
// rule-file parser and PromQL parser, Grafana's dashboard encoding (xz +
// base64 JSON). Test infrastructure: the charm never imports it.
package promrules

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/ulikunitz/xz"
)

// promQL is Prometheus's PromQL parser with its default options.
var promQL = parser.NewParser(parser.Options{})

// ParsePrometheusRules validates an alert_rules value ({"groups": [...]} or
// {}) with Prometheus's own rule-file parser, which also parses every
// expression and template.
func ParsePrometheusRules(value string) (*rulefmt.RuleGroups, error) {
	return parseRules(value, promQL)
}

// ParseLokiRules validates an alert_rules value for Loki with Prometheus's
// rule-file parser (the same file format): the structure, names, labels
// and templates are Prometheus's rules; LogQL expressions get only the
// checks of logQLChecker.
func ParseLokiRules(value string) (*rulefmt.RuleGroups, error) {
	return parseRules(value, logQLChecker{promQL})
}

func parseRules(value string, p parser.Parser) (*rulefmt.RuleGroups, error) {
	var v any
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		return nil, fmt.Errorf("alert_rules is not JSON: %w", err)
	}
	// JSON is YAML: the rule parser reads the value as Prometheus reads
	// the rule file it writes from it.
	groups, errs := rulefmt.Parse([]byte(value), false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid rules: %v", errs)
	}
	return groups, nil
}

// logQLChecker checks LogQL expressions as far as Go can here: balanced
// brackets and a stream selector.
type logQLChecker struct{ parser.Parser }

func (logQLChecker) ParseExpr(input string) (parser.Expr, error) {
	depth := map[rune]int{}
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := false
	for i, c := range input {
		switch {
		case c == '"' && (i == 0 || input[i-1] != '\\'):
			inString = !inString
		case inString:
		case c == '(' || c == '[' || c == '{':
			depth[c]++
		case c == ')' || c == ']' || c == '}':
			depth[pairs[c]]--
			if depth[pairs[c]] < 0 {
				return nil, fmt.Errorf("unbalanced %q in %q", c, input)
			}
		}
	}
	if inString || depth['('] != 0 || depth['['] != 0 || depth['{'] != 0 {
		return nil, fmt.Errorf("unbalanced brackets or quotes in %q", input)
	}
	if !strings.Contains(input, "{") {
		return nil, fmt.Errorf("no stream selector in %q", input)
	}
	return &parser.NumberLiteral{}, nil
}

// grafanaVariables are the dashboard variables in a query: a range
// variable becomes a duration, the others are only in label values.
var (
	rangeVariable = regexp.MustCompile(`\$__(rate_)?interval|\$__range`)
	anyVariable   = regexp.MustCompile(`\$\{?[A-Za-z_]+\}?`)
)

// MetricNames parses a PromQL expression (a dashboard's, with Grafana's
// variables, or a rule's) and returns the metric names it reads, sorted.
func MetricNames(expr string) ([]string, error) {
	expr = rangeVariable.ReplaceAllString(expr, "5m")
	expr = anyVariable.ReplaceAllString(expr, "x")
	e, err := promQL.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
			if name != "" {
				names = append(names, name)
			}
		}
		return nil
	})
	slices.Sort(names)
	return slices.Compact(names), nil
}

// DecodeDashboard decodes a grafana_dashboard template's content (base64
// of an xz stream of the dashboard's JSON).
func DecodeDashboard(content string) (map[string]any, error) {
	raw, err := base64.StdEncoding.DecodeString(content)
	if err != nil {
		return nil, fmt.Errorf("content is not base64: %w", err)
	}
	r, err := xz.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("content is not xz: %w", err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("content is not xz: %w", err)
	}
	var d map[string]any
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("dashboard is not JSON: %w", err)
	}
	return d, nil
}

// DashboardExprs lists every query expression of a dashboard's panels
// (rows included).
func DashboardExprs(d map[string]any) []string {
	var out []string
	var walk func(panels []any)
	walk = func(panels []any) {
		for _, p := range panels {
			pm, _ := p.(map[string]any)
			targets, _ := pm["targets"].([]any)
			for _, t := range targets {
				if tm, ok := t.(map[string]any); ok {
					if e, ok := tm["expr"].(string); ok && e != "" {
						out = append(out, e)
					}
				}
			}
			sub, _ := pm["panels"].([]any)
			walk(sub)
		}
	}
	panels, _ := d["panels"].([]any)
	walk(panels)
	return out
}

// RuleExprs lists the expressions of the rule groups.
func RuleExprs(groups *rulefmt.RuleGroups) []string {
	var out []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}
