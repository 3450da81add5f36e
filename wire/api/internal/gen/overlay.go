package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// overlay extends one Kafka schema with facts from versions newer than the schema snapshot
// in reference/. Each entry names where the facts come from.
type overlay struct {
	// Source names the KIPs or documents that establish the change.
	Source string `json:"source"`
	// ValidVersions replaces the schema's validVersions.
	ValidVersions string `json:"validVersions"`
	// Patches change or add fields, in order.
	Patches []patch `json:"patches"`
}

// patch changes one field, or adds one.
//
// Path names a field by its dotted path of field names from the message top ("Topics.Name").
// With Set, the keys of Set replace those of the field at Path. With Add, the field Add is
// inserted into the struct at Path ("" for the message top) after the field named After, or
// at the end when After is empty.
type patch struct {
	Path  string                     `json:"path"`
	Set   map[string]json.RawMessage `json:"set"`
	Add   *field                     `json:"add"`
	After string                     `json:"after"`
}

func (o *overlay) apply(m *message) error {
	if o.ValidVersions != "" {
		m.ValidVersions = o.ValidVersions
	}
	for _, p := range o.Patches {
		if err := p.apply(m); err != nil {
			return fmt.Errorf("%s: patch %q: %w", m.Name, p.Path, err)
		}
	}
	return nil
}

func (p *patch) apply(m *message) error {
	switch {
	case p.Add != nil:
		fields := &m.Fields
		if p.Path != "" {
			parent, err := findField(m.Fields, p.Path)
			if err != nil {
				return err
			}
			fields = &parent.Fields
		}
		at := len(*fields)
		if p.After != "" {
			at = -1
			for i, f := range *fields {
				if f.Name == p.After {
					at = i + 1
				}
			}
			if at < 0 {
				return fmt.Errorf("no field %q to add after", p.After)
			}
		}
		*fields = append((*fields)[:at], append([]*field{p.Add}, (*fields)[at:]...)...)
		return nil
	case p.Set != nil:
		f, err := findField(m.Fields, p.Path)
		if err != nil {
			return err
		}
		// Round-trip the field through JSON so Set may name any schema key.
		raw, err := json.Marshal(f)
		if err != nil {
			return err
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return err
		}
		for k, v := range p.Set {
			obj[k] = v
		}
		if raw, err = json.Marshal(obj); err != nil {
			return err
		}
		*f = field{}
		return json.Unmarshal(raw, f)
	default:
		return fmt.Errorf("patch has neither set nor add")
	}
}

func findField(fields []*field, path string) (*field, error) {
	name, rest, more := strings.Cut(path, ".")
	for _, f := range fields {
		if f.Name == name {
			if more {
				return findField(f.Fields, rest)
			}
			return f, nil
		}
	}
	return nil, fmt.Errorf("no field %q", name)
}
