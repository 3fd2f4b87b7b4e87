// Grafana Live frames through @grafana/data's StreamingDataFrame (dataframe/StreamingDataFrame.ts),
// the buffer behind every Live panel.
//
// Request: {options: {maxLength, maxDelta}, messages: [DataFrameJSON, ...]}
// Answer: one entry per push: {length, schemaChanged, action, fields}, and the final values.
'use strict';

const data = require('./grafana_data.cjs');
const { run } = require('./io.cjs');

run(({ options, messages }) => {
  const frame = data.StreamingDataFrame.empty({
    maxLength: options.maxLength,
    maxDelta: options.maxDelta === null || options.maxDelta === undefined ? Infinity : options.maxDelta,
  });
  const pushes = messages.map((msg) => {
    const info = frame.push(msg);
    return {
      length: frame.length,
      schemaChanged: info.schemaChanged,
      action: info.action,
      fields: frame.fields.map((f) => f.name),
    };
  });
  const values = {};
  for (const f of frame.fields) values[f.name] = f.values;
  return { pushes, values };
});
