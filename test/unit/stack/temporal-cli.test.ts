import { describe, expect, it } from 'vitest';
import { isAtLeastPinnedCli, TEMPORAL_CLI_VERSION } from '../../../stack/install.js';

const [major, minor, patch] = TEMPORAL_CLI_VERSION.split('.').map(Number) as [number, number, number];
const says = (version: string) => `temporal version ${version} (Server 1.32.0, UI 2.54.1)`;

describe('isAtLeastPinnedCli', () => {
  it('accepts the pinned CLI and newer ones', () => {
    expect(isAtLeastPinnedCli(says(TEMPORAL_CLI_VERSION))).toBe(true);
    expect(isAtLeastPinnedCli(says(`${major}.${minor}.${patch + 1}`))).toBe(true);
    expect(isAtLeastPinnedCli(says(`${major}.${minor + 1}.0`))).toBe(true);
    expect(isAtLeastPinnedCli(says(`${major}.${minor + 10}.0`))).toBe(true); // numbers, not text
    expect(isAtLeastPinnedCli(says(`${major + 1}.0.0`))).toBe(true);
  });

  it('refuses older or unreadable ones', () => {
    expect(isAtLeastPinnedCli(says(`${major}.${minor - 1}.${patch + 5}`))).toBe(false);
    expect(isAtLeastPinnedCli(says(`${major - 1}.${minor + 5}.0`))).toBe(false);
    expect(isAtLeastPinnedCli('temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)')).toBe(false);
    expect(isAtLeastPinnedCli('temporal: command not found')).toBe(false);
  });
});
