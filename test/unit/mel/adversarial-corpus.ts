// Hostile model outputs: each once made a verifier, parser or leakage check run for seconds to minutes
// (quadratic scans, regex backtracking, the Compute Engine's exponential parse), or would have.

const INVALID_UTF8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0xed, 0xa0, 0x80]).toString('utf8');

const SECTIONS = (failure: string) =>
  `## 1. Failure Resolution Path\n${failure}\n## 2. Analysis of Success Factors\nok\n` +
  '## 3. First-Person Reflective Summary\nI will check.\n## 4. Subject Heuristics\n- If in doubt, check.\n';

/** The replay the tiny model cut at its token budget: a chain of divisions with unclosed parentheses. */
export const TRUNCATED_DIVISION_CHAIN = `The answer is \\frac{1}{${'(1/'.repeat(22)}`;

export const ADVERSARIAL_OUTPUTS: Readonly<Record<string, string>> = {
  'answer phrase then 10^5 dots': `The answer is ${'.'.repeat(1e5)} x`,
  'boxed spaced dots': `\\boxed{${'. '.repeat(5e4)}x}`,
  'unclosed boxed x2e4': '\\boxed{1'.repeat(2e4),
  'bare boxed x2e4': '\\boxed'.repeat(2e4),
  'nested boxed x1e4': `${'\\boxed{'.repeat(1e4)}1${'}'.repeat(1e4)}`,
  'deep braces 1e4': `\\boxed{${'{'.repeat(1e4)}1${'}'.repeat(1e4)}}`,
  'unclosed braces 1e5': `\\boxed{${'{'.repeat(1e5)}`,
  'power tower': `\\boxed{${'2^{'.repeat(40)}2${'}'.repeat(40)}}`,
  'small power tower': '\\boxed{2^{2^{2^{2^{2^{2}}}}}}',
  'factorial tower': '\\boxed{((((9!)!)!)!)!}',
  'truncated division chain': TRUNCATED_DIVISION_CHAIN,
  'division chain in a box': `\\boxed{${'1/('.repeat(40)}1`,
  'special tokens': `${'<|im_end|><|endoftext|>'.repeat(5e3)}The answer is <|im_start|>`,
  'answer phrase then newlines': `The answer is${'\n'.repeat(1e5)}`,
  'answer colon then spaces': `answer:${' '.repeat(1e5)}`,
  'answer phrases x1e4': 'the answer is 1.\n'.repeat(1e4),
  'answer phrase then punctuation runs': `The answer is ${'.;!'.repeat(3e4)}x`,
  'text commands x1e4': `\\boxed{${'\\text{a}'.repeat(1e4)}}`,
  'percent then spaces': `\\boxed{5%${' '.repeat(1e5)}x}`,
  'assignment with long name': `\\boxed{x_{${'a'.repeat(1e5)}}}`,
  'number then words': `\\boxed{1 ${'a '.repeat(5e4)}!}`,
  'digits 1e5': '9'.repeat(1e5),
  'decimal with 1e5 zeros': `1.${'0'.repeat(1e5)}1 is 1`,
  'thousands groups': `${'1,000'.repeat(2e4)}x`,
  'dollar spam': '$'.repeat(1e5),
  'bold spam': `answer: ${'*'.repeat(1e5)}`,
  'lone surrogates': `\\boxed{${'\ud800'.repeat(5e4)}}`,
  'invalid utf-8': `The answer is ${INVALID_UTF8.repeat(1e4)}`,
  'sqrt without close': `\\boxed{${'sqrt('.repeat(2e4)}}`,
  'degrees spam': `\\boxed{${'^ '.repeat(5e4)}}`,
  'label then blank lines': `**Failure Point:** a${'\n'.repeat(1e5)}x`,
  'label then spaced blank lines': `**Failure Point:** a${' \n'.repeat(5e4)}x`,
  'reflection with blank lines after a label': SECTIONS(`**Failure Point:** a${'\n'.repeat(1e5)}x`),
  'reflection with spaced blank lines after a label': SECTIONS(`**Failure Point:** a${' \n'.repeat(5e4)}x`),
  'headings x1e4': '## 4. Subject Heuristics\n- If x.\n'.repeat(1e4),
  'bullets x2e4': `## 4. Subject Heuristics\n${'- If ok\n   then\n'.repeat(2e4)}`,
  'bold labels x1e4': `## 1. Failure Resolution Path\n${'**Failure Point:** a\n'.repeat(1e4)}`,
};
