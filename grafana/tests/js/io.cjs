// Each check reads one JSON request on stdin and writes one JSON answer on stdout.
'use strict';

function run(handle) {
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => (input += chunk));
  process.stdin.on('end', () => {
    const answer = handle(JSON.parse(input));
    process.stdout.write(JSON.stringify(answer));
  });
}

module.exports = { run };
