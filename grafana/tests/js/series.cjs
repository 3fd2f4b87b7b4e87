// How Grafana names, matches and colours the series of a panel, with @grafana/data's own code:
// applyFieldOverrides (field/fieldOverrides.ts: panel defaults, override matchers, series index),
// getFieldDisplayName (field/fieldState.ts) and getFieldSeriesColor (field/fieldColor.ts).
//
// Request: {frames: [{name, fields: [{name, type, config, values}]}], fieldConfig: <panel fieldConfig>}
// Answer: one entry per field: {frame, field, displayName, custom, color}
//
// Grafana's standard field-option items (unit, color, custom.*) are registered by the app
// (public/app/core/components/OptionsUI/registry.tsx), not by @grafana/data. For the ids these
// panels use (color, unit, decimals and custom.* values) they keep the value as given, so the
// registry here holds pass-through items for exactly the ids the panel's fieldConfig names.
'use strict';

const data = require('./grafana_data.cjs');
const { run } = require('./io.cjs');

function propertyIds(fieldConfig) {
  const ids = new Set();
  const defaults = fieldConfig.defaults || {};
  for (const key of Object.keys(defaults)) {
    if (key === 'custom') {
      for (const c of Object.keys(defaults.custom || {})) ids.add(`custom.${c}`);
    } else {
      ids.add(key);
    }
  }
  for (const o of fieldConfig.overrides || []) {
    for (const p of o.properties || []) ids.add(p.id);
  }
  return [...ids];
}

function registry(ids) {
  return new data.FieldConfigOptionsRegistry(() =>
    ids.map((id) => {
      const isCustom = id.startsWith('custom.');
      return {
        id,
        path: isCustom ? id.slice('custom.'.length) : id,
        name: id,
        isCustom,
        process: (value) => value,
        shouldApply: () => true,
        override: () => null,
        editor: () => null,
      };
    })
  );
}

run(({ frames, fieldConfig }) => {
  const theme = data.createTheme();
  const input = frames.map((f) => data.createDataFrame(f));
  const out = data.applyFieldOverrides({
    data: input,
    fieldConfig,
    fieldConfigRegistry: registry(propertyIds(fieldConfig)),
    replaceVariables: (v) => v,
    theme,
  });
  const answer = [];
  for (const frame of out) {
    for (const field of frame.fields) {
      if (field.type === data.FieldType.time) continue;
      answer.push({
        frame: frame.name,
        field: field.name,
        displayName: data.getFieldDisplayName(field, frame, out),
        custom: field.config.custom || {},
        color: field.type === data.FieldType.number ? data.getFieldSeriesColor(field, theme).color : null,
      });
    }
  }
  return answer;
});
