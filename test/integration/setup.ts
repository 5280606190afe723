import { createLogger } from '../../common/logger.js';
import { installTemporalRuntime } from '../../temporal/runtime.js';

installTemporalRuntime(createLogger('temporal-sdk'), 'WARN');
