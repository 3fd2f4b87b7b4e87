// Which fields Grafana's field matchers select in given frames (@grafana/data getFieldMatcher,
// transformations/matchers), e.g. the XY chart's series x/y/color/size matchers. The XY chart's
// frame matcher "byIndex" is the app's own one-liner (public/app/plugins/panel/xychart/utils.ts,
// getFrameMatcher2: index === options), repeated here.
//
// Request: {frames: [...], matchers: {key: {id, options}}, frame?: {id: "byIndex", options: n}}
// Answer: {key: [field name, ...]} over the selected frame's number and time fields
'use strict';

const data = require('./grafana_data.cjs');
const { run } = require('./io.cjs');

run(({ frames, matchers, frame }) => {
  const all = frames.map((f) => data.createDataFrame(f));
  if (!data.fieldMatchers.getIfExists('byName')) throw new Error('no byName matcher registered');
  const chosen = all.filter((_, i) => !frame || (frame.id === 'byIndex' && i === frame.options));
  const answer = {};
  for (const [key, config] of Object.entries(matchers)) {
    if (!data.fieldMatchers.getIfExists(config.id)) {
      answer[key] = { error: `unknown matcher ${config.id}` };
      continue;
    }
    const match = data.getFieldMatcher(config);
    answer[key] = chosen.flatMap((f) =>
      f.fields
        .filter((field) => field.type === data.FieldType.number || field.type === data.FieldType.time)
        .filter((field) => match(field, f, all))
        .map((field) => field.name)
    );
  }
  return answer;
});
