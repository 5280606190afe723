import { describe, expect, it } from 'vitest';
import { redactCredentials, redactedMessage } from '../../../common/redact.js';

describe('redactCredentials', () => {
  it.each([
    ['mongodb://mel:s3cret@db.example.com:27017/mel', 'mongodb://mel:***@db.example.com:27017/mel'],
    [
      'mongodb+srv://admin:p%40ss:word@cluster0.abc.mongodb.net/?retryWrites=true',
      'mongodb+srv://admin:***@cluster0.abc.mongodb.net/?retryWrites=true',
    ],
    ['mongodb://u:p@h1:1,h2:2/db?replicaSet=rs', 'mongodb://u:***@h1:1,h2:2/db?replicaSet=rs'],
    ['https://user:pass@example.com/path', 'https://user:***@example.com/path'],
    ['http://ghp_abcdef@github.com/x.git', 'http://***@github.com/x.git'],
    ['http://127.0.0.1:8000/api?api_key=abc123&x=1', 'http://127.0.0.1:8000/api?api_key=***&x=1'],
    ['https://h/v1?model=m&apiKey=XYZ#frag', 'https://h/v1?model=m&apiKey=***#frag'],
    ['https://h/?access_token=t0k', 'https://h/?access_token=***'],
  ])('masks %s', (input, expected) => {
    expect(redactCredentials(input)).toBe(expected);
  });

  it('masks every URI inside a longer message, and keeps the rest', () => {
    const message =
      'cannot reach MongoDB at mongodb://a:b@h1/ (tried mongodb://c:d@h2/): MongoServerSelectionError';
    expect(redactCredentials(message)).toBe(
      'cannot reach MongoDB at mongodb://a:***@h1/ (tried mongodb://c:***@h2/): MongoServerSelectionError',
    );
  });

  it('masks inside JSON log lines without breaking them', () => {
    const line = JSON.stringify({ msg: 'x', uri: 'mongodb://u:p@h/', url: 'https://h/?api_key=k' });
    const redacted = redactCredentials(line);
    expect(JSON.parse(redacted)).toEqual({
      msg: 'x',
      uri: 'mongodb://u:***@h/',
      url: 'https://h/?api_key=***',
    });
  });

  it.each([
    'mongodb://127.0.0.1:27217/',
    'http://127.0.0.1:18233/namespaces/default/workflows?query=MelRunId%3D%22a%22',
    'https://example.com/?email=a@b.com',
    'see https://docs.example.com/path@v1 for details',
    'monkey=banana tokens=3 passwords are secret',
    'step 0 (1/3) done: reward 0.563',
  ])('leaves %s alone', (text) => {
    expect(redactCredentials(text)).toBe(text);
  });

  it('redacts error messages', () => {
    expect(redactedMessage(new Error('bad uri mongodb://u:p@h/'))).toBe('bad uri mongodb://u:***@h/');
    expect(redactedMessage('https://k@h/')).toBe('https://***@h/');
  });
});
